using System.Buffers.Binary;
using System.Diagnostics;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Dicom;

/// <summary>Malformed input: one exception type with an offset and a reason, bounded allocation, no hang.</summary>
public sealed class BadInputTests(ITestOutputHelper output)
{
    private static byte[] Sample(string name = "CT_small.dcm") => File.ReadAllBytes(Path.Combine(Peers.PydicomDir("test_files"), name));

    private static byte[] Part10(params byte[][] elements)
    {
        var file = new DicomFile(new DicomDataset(), TransferSyntax.ExplicitVRLittleEndian);
        file.FileMetaInfo.Add(DicomTags.TransferSyntaxUID, DicomVR.UI, TransferSyntax.ExplicitVRLittleEndian.Uid);
        var bytes = file.ToBytes();
        return [.. bytes, .. elements.SelectMany(e => e)];
    }

    private static byte[] Element(ushort group, ushort element, string vr, uint length, bool longLength = false)
    {
        var h = new byte[longLength ? 12 : 8];
        BinaryPrimitives.WriteUInt16LittleEndian(h, group);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(2), element);
        h[4] = (byte)vr[0];
        h[5] = (byte)vr[1];
        if (longLength) BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(8), length);
        else BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(6), (ushort)length);
        return h;
    }

    [Fact]
    public void Truncated_file_reports_the_offset_where_data_ran_out()
    {
        var bytes = Sample();
        var ex = Assert.Throws<DicomReadException>(() => DicomFile.Open(bytes.AsMemory(0, bytes.Length - 1000)));
        Assert.InRange(ex.Offset, 132, bytes.Length);
        Assert.Contains("remain", ex.Reason);
    }

    [Fact]
    public void Length_of_4_GB_in_a_1_KB_file_is_refused_without_allocating_it()
    {
        var bytes = Part10(Element(0x0009, 0x1010, "OB", 0xFFFFFFF0, longLength: true), new byte[1024]);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<DicomReadException>(() => DicomFile.Open(bytes.AsMemory()));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("claims", ex.Reason);
        Assert.True(allocated < 256 * 1024, $"allocated {allocated} bytes for a {bytes.Length}-byte input");
    }

    [Fact]
    public void Unknown_vr_code_is_refused_with_its_offset()
    {
        var bytes = Part10(Element(0x0010, 0x0010, "ZZ", 4), "ABCD"u8.ToArray());
        var ex = Assert.Throws<DicomReadException>(() => DicomFile.Open(bytes.AsMemory()));
        Assert.Contains("unknown VR", ex.Reason);
        Assert.Equal(bytes.Length - 8 - 4 + 4, ex.Offset);
    }

    [Fact]
    public void Odd_length_is_refused_in_strict_mode_and_padded_otherwise()
    {
        var bytes = Part10(Element(0x0010, 0x0010, "PN", 3), "DOE"u8.ToArray());
        Assert.Throws<DicomReadException>(() => DicomFile.Open(bytes.AsMemory(), new DicomReadOptions { Strict = true }));
        var file = DicomFile.Open(bytes.AsMemory());
        Assert.Equal("DOE", file.Dataset.GetString(DicomTags.PatientName));
        Assert.Equal(4, DicomFile.Open(file.ToBytes().AsMemory()).Dataset.Get<DicomElement>(DicomTags.PatientName)!.Length);
    }

    [Fact]
    public void Sequences_nested_past_the_limit_are_refused()
    {
        // 100 nested undefined-length sequences, each holding one undefined-length item.
        var open = new List<byte>();
        for (var i = 0; i < 100; i++)
        {
            open.AddRange(Element(0x0008, 0x1115, "SQ", 0xFFFFFFFF, longLength: true));
            open.AddRange(new byte[] { 0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF });
        }
        var ex = Assert.Throws<DicomReadException>(() => DicomFile.Open(Part10(open.ToArray()).AsMemory()));
        Assert.Contains("nested deeper", ex.Reason);
    }

    [Fact]
    public void Garbage_after_the_data_set_is_refused()
    {
        var bytes = Sample();
        byte[] stray = [.. bytes, 0x01, 0x02, 0x03];
        byte[] junk = [.. bytes, .. Enumerable.Repeat((byte)0xFF, 32)];
        Assert.Throws<DicomReadException>(() => DicomFile.Open(stray.AsMemory()));
        Assert.Throws<DicomReadException>(() => DicomFile.Open(junk.AsMemory()));
    }

    [Fact]
    public void Fuzzed_real_files_raise_only_DicomReadException_and_never_hang()
    {
        // Bit flips, truncation and length corruption of real files, with a fixed seed so a failure replays.
        var sources = new[] { "CT_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "rtplan.dcm", "JPEG2000.dcm", "image_dfl.dcm", "nested_priv_SQ.dcm", "UN_sequence.dcm", "test-SR.dcm" }
            .Select(n => Sample(n)).ToArray();
        var random = new Random(20261125);
        const int cases = 12_000;
        var rejected = 0;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < cases; i++)
        {
            var source = sources[i % sources.Length];
            var data = (byte[])source.Clone();
            switch (random.Next(4))
            {
                case 0: // bit flips
                    for (var k = random.Next(1, 8); k > 0; k--) data[random.Next(data.Length)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1: // truncation
                    data = data[..random.Next(data.Length)];
                    break;
                case 2: // length corruption: overwrite a 16- or 32-bit field with a large or odd value
                    var at = random.Next(132, data.Length - 4);
                    BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(at), (uint)random.Next() | (random.Next(2) == 0 ? 0x80000000u : 1u));
                    break;
                default: // random bytes spliced in
                    var pos = random.Next(data.Length);
                    var junk = new byte[random.Next(1, 64)];
                    random.NextBytes(junk);
                    data = [.. data[..pos], .. junk, .. data[pos..]];
                    break;
            }
            var caseClock = Stopwatch.StartNew();
            try
            {
                var file = DicomFile.Open(data.AsMemory());
                // What was read must also be usable: text, and writing back.
                foreach (var item in file.Dataset) _ = file.Dataset.GetString(item.Tag);
                _ = file.ToBytes();
            }
            catch (DicomReadException) { rejected++; }
            catch (Exception ex) when (ex is NotSupportedException or ArgumentException or OverflowException or FormatException or InvalidOperationException or KeyNotFoundException)
            {
                // Values that parsed but cannot be shown or written are not reader failures; count them separately.
                Assert.Fail($"case {i}: {ex.GetType().Name} escaped while using a parsed file: {ex.Message}");
            }
            Assert.True(caseClock.ElapsedMilliseconds < 2000, $"case {i} took {caseClock.ElapsedMilliseconds} ms");
        }
        output.WriteLine($"{cases} fuzz cases, {rejected} rejected with DicomReadException, {clock.ElapsedMilliseconds} ms");
        Assert.InRange(rejected, cases / 10, cases);
    }
}
