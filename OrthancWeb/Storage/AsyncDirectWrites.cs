using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace OrthancWeb.Storage;

/// <summary>
/// A file already whole in memory (a received C-STORE data set) written to the disk while the caller goes on: Linux
/// native AIO (io_submit) of the whole blocks with O_DIRECT, the partial last block through the page cache. A 512 KB
/// direct write keeps the caller waiting 0.4 ms for the disk; submitted, it takes 30 µs, and the disk works while
/// the header is parsed and the index filled. The file is first given its final length: ext4 performs a direct write
/// that extends a file synchronously, even when submitted asynchronously (measured: 0.3 ms in io_submit).
/// Where AIO is not available (another OS, a sandbox without io_setup), the write is done at once, as by
/// <see cref="DirectFileWriter"/>.
/// </summary>
public sealed class AsyncDirectWrites(StagingBuffers buffers) : IDisposable
{
    private readonly StagingBuffers _buffers = buffers;
    private readonly ConcurrentBag<AioContext> _contexts = [];
    private volatile bool _unavailable = !OperatingSystem.IsLinux() || !Syscalls.Known;

    /// <summary>Starts writing the two parts as one file; the returned write must be waited for, then disposed.</summary>
    public PendingWrite Start(SafeFileHandle file, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        var size = first.Length + second.Length;
        var whole = size / 4096 * 4096;
        if (!_unavailable && whole > 0 && size <= StagingBuffers.Size && RentContext() is { } context)
        {
            var staging = _buffers.Rent();
            var submitted = false;
            try
            {
                first.CopyTo(staging.Span);
                second.CopyTo(staging.Span[first.Length..]);
                RandomAccess.SetLength(file, size);
                if (DirectFileWriter.SetDirect(file, true) && context.Submit(file, staging.Address, whole))
                {
                    submitted = true;
                    DirectFileWriter.SetDirect(file, false); // the submitted write keeps its flag; the tail is buffered
                    if (size > whole) RandomAccess.Write(file, staging.Span[whole..size], whole);
                    return new PendingWrite(this, context, staging, whole, file);
                }
                DirectFileWriter.SetDirect(file, false);
            }
            catch
            {
                // The kernel may still be reading the buffer: let it finish before the buffer and context are reused.
                if (submitted) context.WaitOne();
                _contexts.Add(context);
                _buffers.Return(staging);
                throw;
            }
            _contexts.Add(context);
            _buffers.Return(staging);
        }
        using (var writer = new DirectFileWriter(file, _buffers))
        {
            writer.Write(first);
            writer.Write(second);
            writer.Complete();
        }
        return new PendingWrite(this, null, null, 0, file);
    }

    private AioContext? RentContext()
    {
        if (_contexts.TryTake(out var context)) return context;
        var created = AioContext.Create();
        if (created is null) _unavailable = true;
        return created;
    }

    /// <summary>A write on its way to the disk.</summary>
    public sealed class PendingWrite : IDisposable
    {
        private readonly AsyncDirectWrites _owner;
        private AioContext? _context;
        private StagingBuffers.Buffer? _staging;
        private readonly long _expected;
        private readonly SafeFileHandle _file;
        private Exception? _failure;

        internal PendingWrite(AsyncDirectWrites owner, AioContext? context, StagingBuffers.Buffer? staging, long expected, SafeFileHandle file) =>
            (_owner, _context, _staging, _expected, _file) = (owner, context, staging, expected, file);

        /// <summary>Whether the disk is still being written to (else the write was done at once).</summary>
        public bool InFlight => _context is not null;

        /// <summary>Blocks until the disk has the bytes (at once when nothing is in flight); throws if it failed.</summary>
        public void Wait()
        {
            // Two threads may wait at once (the checksum thread, and the header read back from a file): one reaps the event.
            lock (_gate)
            {
                if (_context is { } context)
                {
                    _context = null;
                    var result = context.WaitOne();
                    _owner._contexts.Add(context);
                    if (result == -22 /* EINVAL: a file system that took the flag but not the write */)
                    {
                        // The handle writes through the page cache again since Start; the bytes are still staged.
                        try { RandomAccess.Write(_file, _staging!.Span[..(int)_expected], 0); }
                        catch (IOException ex) { _failure = ex; }
                    }
                    else if (result is -28 or -122 || result >= 0 && result < _expected)
                        // ENOSPC, EDQUOT, or a write the file system cut short: no room left (PS3.7 C.4.2: Out of Resources).
                        _failure = new StorageFullException(result < 0 ? $"the disk is full (errno {-result})" : $"the disk is full: the write stopped at {result} of {_expected} bytes");
                    else if (result != _expected)
                        _failure = new IOException($"direct write failed (errno {-result})");
                }
            }
            if (_failure is not null) throw _failure;
        }

        private readonly Lock _gate = new();

        public void Dispose()
        {
            try { Wait(); } catch (IOException) { } // the caller has already been told, or is failing for another reason
            if (_staging is not null) _owner._buffers.Return(_staging);
            _staging = null;
        }
    }

    public void Dispose()
    {
        while (_contexts.TryTake(out var context)) context.Destroy();
    }

    /// <summary>One kernel AIO context with room for one write, and the pinned memory its system calls point into.</summary>
    internal sealed class AioContext
    {
        // struct iocb (64 bytes) and struct io_event (32 bytes) of linux/aio_abi.h, on the pinned object heap.
        private readonly long[] _iocb = GC.AllocateArray<long>(8, pinned: true);
        private readonly long[] _iocbs = GC.AllocateArray<long>(1, pinned: true);
        private readonly long[] _event = GC.AllocateArray<long>(4, pinned: true);
        private long _id;

        public static AioContext? Create()
        {
            var context = new AioContext();
            var id = GC.AllocateArray<long>(1, pinned: true);
            if (Syscalls.Invoke(Syscalls.Setup, 1, Address(id)) != 0) return null;
            context._id = id[0];
            context._iocbs[0] = Address(context._iocb);
            return context;
        }

        public bool Submit(SafeFileHandle file, nint buffer, long length)
        {
            Array.Clear(_iocb);
            _iocb[2] = 1L /* IOCB_CMD_PWRITE, aio_lio_opcode */ | (long)(uint)file.DangerousGetHandle() << 32 /* aio_fildes */;
            _iocb[3] = buffer;
            _iocb[4] = length;
            _iocb[5] = 0; // offset
            return Syscalls.Invoke(Syscalls.Submit, _id, 1, Address(_iocbs)) == 1;
        }

        /// <summary>The write's result: bytes written, or minus the errno.</summary>
        public long WaitOne()
        {
            while (true)
            {
                var n = Syscalls.Invoke(Syscalls.GetEvents, _id, 1, 1, Address(_event), 0);
                if (n == 1) return _event[2];
                if (Marshal.GetLastPInvokeError() != 4 /* EINTR: the runtime signals threads */) return -Marshal.GetLastPInvokeError();
            }
        }

        public void Destroy() => Syscalls.Invoke(Syscalls.Destroy, _id);

        private static nint Address(long[] pinned) => Marshal.UnsafeAddrOfPinnedArrayElement(pinned, 0);
    }

    private static class Syscalls
    {
        // The AIO system calls have no C library wrapper; their numbers differ by architecture.
        public static readonly bool Known = RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;
        public static readonly long Setup, Destroy, Submit, GetEvents;

        static Syscalls() => (Setup, Destroy, Submit, GetEvents) = RuntimeInformation.ProcessArchitecture == Architecture.X64
            ? (206L, 207L, 209L, 208L)
            : (0L, 1L, 2L, 4L); // arm64, and the generic table of newer architectures

        public static long Invoke(long number, long a, long b = 0, long c = 0, long d = 0, long e = 0) => syscall(number, a, b, c, d, e);

        [DllImport("libc", SetLastError = true)] private static extern long syscall(long number, long a, long b, long c, long d, long e);
    }
}
