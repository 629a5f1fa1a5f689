using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.InteropServices;
using OrthancWeb.Hosting;

namespace OrthancWeb.Storage;

/// <summary>The file system of the storage area has no room left (ENOSPC, EDQUOT, or a write that stopped short).</summary>
public sealed class StorageFullException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>What the storage area knows of one stored file.</summary>
/// <param name="Checksum">The <see cref="FileChecksum"/> of the bytes on disk (compressed, when they are).</param>
public sealed record StoredFile(string Uuid, long UncompressedSize, long CompressedSize, string Checksum, bool Compressed);

/// <summary>A new file of the storage area (uuid.part beside its final place), open for writing, and its UUID.</summary>
public sealed record IncomingFile(string Path, Microsoft.Win32.SafeHandles.SafeFileHandle Handle, string Uuid);

/// <summary>
/// The storage area: files named by UUID in a two-level hex layout (ab/cd/uuid), never by DICOM content. Every write
/// goes to a temporary file that is flushed to disk and then renamed, so a crash leaves the whole file or none.
/// </summary>
public sealed class StorageArea : IDisposable
{
    private readonly string _root;

    /// <summary>The storage folder.</summary>
    public string Root => _root;
    private readonly string _databaseFolder;

    /// <param name="identity">
    /// This server among several sharing the folder: its partial and temporary files carry its tag, so that another
    /// server's start-up check can tell them from the leftovers of a server that is gone.
    /// </param>
    public StorageArea(DataPaths paths, ServerIdentity? identity = null)
    {
        _root = paths.Storage;
        _databaseFolder = paths.Database;
        _syncDatabaseFolder = !OperatingSystem.IsLinux() || !SameFileSystem(_root, _databaseFolder);
        _tag = identity?.Tag;
        TempRoot = Path.Combine(_root, ".tmp");
        TempFolder = _tag is null ? TempRoot : Path.Combine(TempRoot, _tag);
        Directory.CreateDirectory(TempFolder);
        _drive = new DriveInfo(_root);
        _asyncWrites = new AsyncDirectWrites(_staging);
    }

    private readonly DriveInfo _drive;
    private readonly string? _tag;

    /// <summary>The shared folder of temporary files: one folder per server tag under it.</summary>
    private string TempRoot { get; }

    /// <summary>Bytes free on the storage area's file system for an unprivileged writer (statvfs's f_bavail).</summary>
    public long AvailableFreeSpace => _drive.AvailableFreeSpace;

    /// <summary>Whether a failed write failed for want of space: ENOSPC or EDQUOT (Linux errno as HResult), disk full on Windows.</summary>
    public static bool IsOutOfSpace(Exception ex) => ex switch
    {
        StorageFullException => true,
        IOException io => io.HResult is 28 or 122 || (io.HResult & 0xFFFF) is 0x70 or 0x27 && (io.HResult & unchecked((int)0xFFFF0000)) == unchecked((int)0x80070000),
        _ => ex.InnerException is { } inner && IsOutOfSpace(inner),
    };

    /// <summary>Spooled uploads and compression output land here first; the start-up check empties it.</summary>
    public string TempFolder { get; }

    public string PathOf(string uuid) => Path.Combine(_root, RelativePathOf(uuid));

    /// <summary>Where a file lives under the storage folder (ab/cd/uuid): the layout backups and restores copy as it is.</summary>
    public static string RelativePathOf(string uuid)
    {
        if (uuid.Length < 4 || !Guid.TryParse(uuid, out _)) throw new ArgumentException("not a storage UUID", nameof(uuid));
        return Path.Combine(uuid[..2], uuid[2..4], uuid);
    }

    /// <summary>
    /// A writer for an incoming file. Direct (past the page cache) unless the file is to be compressed, which reads it
    /// straight back.
    /// </summary>
    public DirectFileWriter OpenWriter(IncomingFile incoming, bool direct) => new(incoming.Handle, direct ? _staging : null);

    private readonly StagingBuffers _staging = new();

    /// <summary>
    /// Starts writing an incoming file whole in memory to the disk (see <see cref="AsyncDirectWrites"/>); the caller
    /// waits for it before the index commits, and disposes it before the file is deleted or the memory reused.
    /// </summary>
    public AsyncDirectWrites.PendingWrite StartWrite(IncomingFile incoming, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        return _asyncWrites.Start(incoming.Handle, first, second);
    }

    private readonly AsyncDirectWrites _asyncWrites;

    public string NewTempPath() => Path.Combine(TempFolder, Guid.NewGuid().ToString("N") + ".part");

    // Files created ahead of need (see CreateIncoming); a few, so that a burst of concurrent senders finds them too.
    private readonly System.Collections.Concurrent.ConcurrentQueue<IncomingFile> _ready = new();
    private int _refilling;
    private const int ReadyFiles = 4;

    /// <summary>
    /// An empty file beside its final place (ab/cd/uuid.part), open for writing, with the UUID it will be stored under.
    /// Creating a file and a folder is the dearest step of storing an instance on ext4 (0.2 to 0.8 ms each here, the
    /// inode allocator's search), so they are made ahead of need and taken ready here; see <see cref="Replenish"/>.
    /// </summary>
    public IncomingFile CreateIncoming()
    {
        if (_ready.TryDequeue(out var ready)) return ready;
        Replenish();
        return CreateIncomingNow();
    }

    /// <summary>
    /// Tops the ready files up on a thread of their own at low priority. The ingest path calls it once an instance is
    /// answered, not when it takes a file: then the creation runs while the sender prepares its next instance instead
    /// of competing for the CPU with the hash and the index work of this one (on 2 cores it had delayed them by
    /// 0.3-0.7 ms per instance).
    /// </summary>
    public void Replenish()
    {
        if (_ready.Count >= ReadyFiles || Interlocked.Exchange(ref _refilling, 1) == 1) return;
        lock (_ready)
        {
            if (_disposed) return;
            if (_refiller is null)
            {
                _refiller = new Thread(RefillLoop) { IsBackground = true, Name = "Storage refill" };
                _refiller.Start();
            }
        }
        _refillSignal.Release();
    }

    private Thread? _refiller;
    private readonly SemaphoreSlim _refillSignal = new(0);
    private volatile bool _disposed;

    private void RefillLoop()
    {
        LowerThreadPriority();
        while (true)
        {
            _refillSignal.Wait();
            if (_disposed) return;
            try
            {
                while (_ready.Count < ReadyFiles) _ready.Enqueue(CreateIncomingNow());
            }
            catch (IOException) { } // disk full or gone: the next caller creates its own and meets the error itself
            catch (UnauthorizedAccessException) { }
            finally { Volatile.Write(ref _refilling, 0); }
        }
    }

    /// <summary>Nice 10 for the calling thread alone (on Linux, PRIO_PROCESS with a thread ID applies to that thread).</summary>
    private static void LowerThreadPriority()
    {
        if (!OperatingSystem.IsLinux()) return;
        // Best effort, like the refill itself: a thread left at normal priority only competes a little more for the CPU.
        try { _ = setpriority(0 /* PRIO_PROCESS */, gettid(), 10); } catch (EntryPointNotFoundException) { }
    }

    public void Dispose()
    {
        _asyncWrites.Dispose();
        lock (_ready) _disposed = true;
        _refillSignal.Release();
        while (_ready.TryDequeue(out var f)) f.Handle.Dispose();
    }

    [DllImport("libc")] private static extern int gettid();
    [DllImport("libc")] private static extern int setpriority(int which, int who, int prio);

    private IncomingFile CreateIncomingNow()
    {
        var uuid = Guid.NewGuid().ToString();
        var final = PathOf(uuid);
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        // Next to its final name rather than in TempFolder: ext4 looks for a new inode in its folder's block group,
        // and one busy folder's group fills with freed inodes to search past (0.74-0.80 ms per create in one folder,
        // 0.34-0.47 ms spread over the ab/cd folders, measured with a C loop). The rename stays within the folder.
        var path = final + (_tag is null ? "" : "." + _tag) + PartialSuffix;
        return new IncomingFile(path, File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read), uuid);
    }

    /// <summary>
    /// Moves a received incoming file into place under its UUID (its folder already made by <see cref="CreateIncoming"/>),
    /// compressing it with zlib first when asked. Returns what the index records: both sizes and the checksum, which is
    /// <paramref name="checksum"/> (of the received bytes) unless the file is compressed here.
    /// </summary>
    public StoredFile Commit(IncomingFile incoming, long size, string checksum, bool compress)
    {
        var started = Stopwatch.GetTimestamp();
        var stored = CommitFile(incoming, size, checksum, compress);
        StorageMetrics.Record("create", started);
        return stored;
    }

    private StoredFile CommitFile(IncomingFile incoming, long size, string checksum, bool compress)
    {
        var (tempPath, uuid) = (incoming.Path, incoming.Uuid);
        var final = PathOf(uuid);
        if (!compress)
        {
            File.Move(tempPath, final);
            // Linux: the index writer's syncfs makes contents and rename durable for a whole batch at once.
            if (!CanSyncFileSystem) SyncDirectory(Path.GetDirectoryName(final)!);
            return new StoredFile(uuid, size, size, checksum, false);
        }
        var zipped = NewTempPath();
        long compressedSize;
        string compressedChecksum;
        try
        {
            (compressedSize, compressedChecksum) = Compress(tempPath, zipped, size);
        }
        catch
        {
            File.Delete(zipped); // a disk that filled up half way leaves no half-compressed file behind
            throw;
        }
        File.Move(zipped, final);
        File.Delete(tempPath);
        if (!CanSyncFileSystem) SyncDirectory(Path.GetDirectoryName(final)!);
        return new StoredFile(uuid, size, compressedSize, compressedChecksum, true);
    }

    private static (long Size, string Checksum) Compress(string tempPath, string zipped, long size)
    {
        long compressedSize;
        string compressedChecksum;
        using (var input = new FileStream(tempPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        using (var output = new FileStream(zipped, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            // The checksum of the bytes on disk, taken as they are written rather than read back.
            var checksummed = new ChecksummingStream(output);
            // Orthanc's zlib layout: the uncompressed size as 8 bytes little endian, then the zlib stream.
            Span<byte> header = stackalloc byte[8];
            BitConverter.TryWriteBytes(header, (ulong)size);
            checksummed.Write(header);
            using (var z = new ZLibStream(checksummed, CompressionLevel.Fastest, leaveOpen: true))
                input.CopyTo(z);
            output.Flush(flushToDisk: !CanSyncFileSystem);
            compressedSize = output.Length;
            compressedChecksum = checksummed.Checksum;
        }
        return (compressedSize, compressedChecksum);
    }

    /// <summary>The file's bytes as they were received, decompressing when needed.</summary>
    public Stream OpenRead(string uuid, bool compressed)
    {
        var started = Stopwatch.GetTimestamp();
        var file = new FileStream(PathOf(uuid), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.SequentialScan);
        StorageMetrics.Record("read", started); // the open: the caller streams the rest at its own pace
        if (!compressed) return file;
        Span<byte> header = stackalloc byte[8];
        file.ReadExactly(header);
        return new ZLibStream(file, CompressionMode.Decompress);
    }

    public byte[] ReadAll(string uuid, bool compressed)
    {
        var started = Stopwatch.GetTimestamp();
        if (!compressed)
        {
            var bytes = File.ReadAllBytes(PathOf(uuid));
            StorageMetrics.Record("read", started);
            return bytes;
        }
        using var s = OpenRead(uuid, true);
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    public bool Exists(string uuid) => File.Exists(PathOf(uuid));

    /// <summary>
    /// Holds back every deletion of a stored file until the hold is disposed (then they are done): an online backup
    /// copies the files its index snapshot names, and a file replaced after the snapshot (an instance stored again with
    /// OverwriteInstances, modified in place, an attachment replaced) would otherwise be deleted before it is copied,
    /// losing from the backup an instance the server still has. A crash during the hold leaves the held files
    /// unreferenced, for the start-up check to remove. This server's deletions only: another server sharing the folder
    /// does not see the hold.
    /// </summary>
    public IDisposable HoldDeletions()
    {
        lock (_held) _holds++;
        return new DeletionHold(this);
    }

    private readonly List<string> _held = [];
    private int _holds;

    private sealed class DeletionHold(StorageArea area) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 1) return;
            string[] due;
            lock (area._held)
            {
                if (--area._holds > 0) return;
                due = [.. area._held];
                area._held.Clear();
            }
            foreach (var uuid in due) area.DeleteNow(uuid);
        }
    }

    public void Delete(string uuid)
    {
        lock (_held)
        {
            if (_holds > 0) { _held.Add(uuid); return; }
        }
        DeleteNow(uuid);
    }

    private void DeleteNow(string uuid)
    {
        var started = Stopwatch.GetTimestamp();
        try { File.Delete(PathOf(uuid)); }
        catch (DirectoryNotFoundException) { }
        StorageMetrics.Record("remove", started);
    }

    /// <summary>The suffix of a file still being received (see CreateIncoming); never one the index points to.</summary>
    public const string PartialSuffix = ".part";

    /// <summary>
    /// Every UUID-named file under the storage area, for the start-up reconciliation, which runs before any store:
    /// the partial files of stores a crash interrupted are deleted on the way, except those of the other servers
    /// still running on a shared storage folder (<paramref name="liveTags"/>: files ab/cd/uuid.tag.part).
    /// </summary>
    public IEnumerable<string> EnumerateUuids(IReadOnlySet<string>? liveTags = null)
    {
        foreach (var entry in EnumerateEntries())
        {
            if (!entry.IsPartial) yield return entry.Name;
            else if (!IsLive(entry.PartialTag, liveTags)) File.Delete(entry.Path);
        }
    }

    /// <summary>A file under the storage area as the orphan sweep sees it: its name, and its tag if it is a partial file.</summary>
    public sealed record StorageEntry(string Path, string Name, bool IsPartial, string? PartialTag);

    /// <summary>
    /// The stored and partial files under the storage area, deleting nothing: the sweep that runs beside stores reads
    /// them as they are (<see cref="EnumerateUuids"/>, the start-up's, clears partial files on the way).
    /// </summary>
    public IEnumerable<StorageEntry> EnumerateEntries()
    {
        foreach (var l1 in Directory.EnumerateDirectories(_root))
        {
            if (Path.GetFileName(l1).Length != 2) continue;
            foreach (var l2 in Directory.EnumerateDirectories(l1))
                foreach (var f in Directory.EnumerateFiles(l2))
                {
                    var name = Path.GetFileName(f);
                    if (name.EndsWith(PartialSuffix, StringComparison.Ordinal)) yield return new(f, name, true, PartialTag(name));
                    else if (Guid.TryParse(name, out _)) yield return new(f, name, false, null);
                }
        }
    }

    /// <summary>This server's tag in the names of its partial files (null for a server alone on its storage).</summary>
    public string? OwnTag => _tag;

    /// <summary>The tag in uuid.tag.part, or null in uuid.part (a single server's, or one from before tags).</summary>
    private static string? PartialTag(string name)
    {
        var stem = name[..^PartialSuffix.Length];
        var dot = stem.LastIndexOf('.');
        return dot < 0 ? null : stem[(dot + 1)..];
    }

    private bool IsLive(string? tag, IReadOnlySet<string>? liveTags) => tag is not null && tag != _tag && liveTags?.Contains(tag) == true;

    /// <summary>
    /// Empties this server's temporary folder at start-up (and those of servers no longer running): spooled uploads
    /// and compression output that a crash left behind.
    /// </summary>
    public void ClearTemp(IReadOnlySet<string>? liveTags = null)
    {
        while (_ready.TryDequeue(out var f)) f.Handle.Dispose();
        foreach (var f in Directory.EnumerateFiles(TempRoot)) File.Delete(f);
        foreach (var folder in Directory.EnumerateDirectories(TempRoot))
        {
            if (IsLive(Path.GetFileName(folder), liveTags)) continue;
            foreach (var f in Directory.EnumerateFiles(folder)) File.Delete(f);
        }
    }

    /// <summary>
    /// Group commit of everything written since the last call: on Linux one syncfs(2) per file system makes the
    /// stored files, their renames and the index's write-ahead log durable, in place of an fsync per file, per
    /// folder and per commit. It also flushes other dirty data of the same file system, which on a dedicated DICOM
    /// box is mostly ours anyway.
    /// </summary>
    public static bool CanSyncFileSystem => OperatingSystem.IsLinux();

    public void SyncFileSystems()
    {
        SyncFileSystem(_root);
        // One syncfs per file system: even with nothing left to write, a second one still flushes the disk's cache,
        // which cost 0.25 ms per instance on a single association.
        if (_syncDatabaseFolder) SyncFileSystem(_databaseFolder);
    }

    private readonly bool _syncDatabaseFolder;

    /// <summary>Whether two folders are on one file system (same st_dev); when in doubt, no.</summary>
    private static bool SameFileSystem(string a, string b)
    {
        // st_dev is the first field of struct stat on every 64-bit Linux ABI (x86-64's own layout and the generic one
        // arm64 uses); 256 bytes covers the whole structure on both.
        if (!Environment.Is64BitProcess) return false;
        var sa = new ulong[32];
        var sb = new ulong[32];
        try
        {
            return stat(a, sa) == 0 && stat(b, sb) == 0 && sa[0] == sb[0];
        }
        catch (EntryPointNotFoundException) { return false; } // a C library older than glibc 2.33 exports __xstat only
    }

    // Paths go as UTF-8, what Linux file names are in practice; never through an ANSI code page's best-fit mapping.
    [DllImport("libc", SetLastError = true, BestFitMapping = false)] private static extern int stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, [Out] ulong[] buffer);

    private static void SyncFileSystem(string folder) => SyncFolder(folder, wholeFileSystem: true);

    /// <summary>
    /// Makes everything written under a folder outside the storage area durable at once (a backup, a restore): one
    /// syncfs of its file system on Linux. Elsewhere the writer flushes each file itself (see <see cref="CanSyncFileSystem"/>).
    /// </summary>
    public static void SyncFileSystemOf(string folder)
    {
        if (CanSyncFileSystem) SyncFileSystem(folder);
    }

    /// <summary>syncfs (the folder's whole file system) or fsync (the folder's own entries) through a read-only descriptor.</summary>
    private static void SyncFolder(string folder, bool wholeFileSystem)
    {
        var fd = open(folder, 0 /* O_RDONLY */);
        if (fd < 0) throw new IOException($"cannot open {folder} to sync it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if ((wholeFileSystem ? syncfs(fd) : fsync(fd)) != 0)
                throw new IOException($"{(wholeFileSystem ? "syncfs" : "fsync")} failed on {folder} (errno {Marshal.GetLastPInvokeError()})");
        }
        // The sync's outcome is known by then: closing a read-only descriptor can lose no data, whatever close says.
        finally { _ = close(fd); }
    }

    [DllImport("libc", SetLastError = true)] private static extern int syncfs(int fd);

    /// <summary>
    /// Asks Linux to start writing a file's dirty pages now, without waiting (sync_file_range, SYNC_FILE_RANGE_WRITE):
    /// the later syncfs then finds the data on its way and waits for less. Durability still comes from syncfs alone.
    /// </summary>
    public static void StartWriteBack(Microsoft.Win32.SafeHandles.SafeFileHandle file)
    {
        if (!OperatingSystem.IsLinux()) return;
        // A hint: if the kernel refuses it, the syncfs writes the file all the same, only later.
        _ = sync_file_range((int)file.DangerousGetHandle(), 0, 0, 2 /* SYNC_FILE_RANGE_WRITE */);
    }

    [DllImport("libc", SetLastError = true)] private static extern int sync_file_range(int fd, long offset, long nbytes, uint flags);

    /// <summary>
    /// fsync the folder so the rename itself survives a power cut, where there is no syncfs to do it for a whole batch
    /// (POSIX needs this; Windows has no equivalent). A failure fails the store: its rename may not be durable.
    /// </summary>
    private static void SyncDirectory(string folder)
    {
        if (OperatingSystem.IsWindows()) return;
        SyncFolder(folder, wholeFileSystem: false);
    }

    [DllImport("libc", SetLastError = true, BestFitMapping = false)] private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);
    [DllImport("libc", SetLastError = true)] private static extern int fsync(int fd);
    [DllImport("libc", SetLastError = true)] private static extern int close(int fd);
}
