using System.Text.RegularExpressions;
using OrthancWeb.Dicom.Anonymization;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Anonymization;

/// <summary>The Basic Profile (PS3.15 Annex E) on pydicom's real files, checked by dicom3tools' dciodvfy and attribute by attribute.</summary>
public sealed partial class AnonymizerTests
{
    private static readonly string[] Samples =
        ["CT_small.dcm", "MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "rtplan.dcm", "rtdose.dcm", "rtstruct.dcm", "JPEG2000.dcm",
         "SC_rgb_rle.dcm", "reportsi.dcm", "test-SR.dcm", "waveform_ecg.dcm", "image_dfl.dcm", "liver_1frame.dcm"];

    public static TheoryData<string> Files() => new(Samples);

    private static DicomFile Open(string name) => DicomFile.Open(Path.Combine(Peers.PydicomDir("test_files"), name));

    /// <summary>dciodvfy's errors, without the values it quotes (they are expected to differ).</summary>
    private static HashSet<string> IodErrors(string path)
    {
        var r = Peers.Run("dciodvfy", path);
        return (r.Stdout + r.Stderr).Split('\n')
            .Where(l => l.StartsWith("Error", StringComparison.Ordinal))
            .Select(l => ValueText().Replace(l, "").Trim())
            .ToHashSet();
    }

    [GeneratedRegex(@"\s+=\s+<[^>]*>|\[\d+\]")]
    private static partial Regex ValueText();

    [Theory]
    [MemberData(nameof(Files))]
    public void Anonymized_file_has_no_IOD_error_the_original_did_not_have(string name)
    {
        var dir = Directory.CreateTempSubdirectory("anon-");
        try
        {
            var original = Path.Combine(Peers.PydicomDir("test_files"), name);
            var output = Path.Combine(dir.FullName, name);
            new Anonymizer(new AnonymizationOptions()).Anonymize(DicomFile.Open(original)).Save(output);
            var before = IodErrors(original);
            var after = IodErrors(output);
            Assert.True(!after.Except(before).Any(), string.Join("\n", after.Except(before)));
            // dcmdump reads it back whole.
            Assert.Equal(0, Peers.Run("dcmdump", "-q", output).ExitCode);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void A_sequence_the_profile_lets_go_is_removed_not_left_empty()
    {
        // An MR image as modalities send it: its Referenced Study Sequence (X/Z in PS3.15 Table E.1-1, type 3 in the
        // General Study module) points at the order. Emptied, it would be a type 3 sequence without items, which
        // dciodvfy reports; Orthanc removes it, and so must we.
        var dir = Directory.CreateTempSubdirectory("anon-refstudy-");
        try
        {
            var original = Path.Combine(dir.FullName, "mr.dcm");
            var made = Peers.Run(Peers.DebianPython, "-c", $$"""
                import pydicom, pydicom.data
                from pydicom.dataset import Dataset
                ds = pydicom.dcmread(pydicom.data.get_testdata_file("MR_small.dcm"))
                ref = Dataset(); ref.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"; ref.ReferencedSOPInstanceUID = "1.2.3.4.5"
                ds.ReferencedStudySequence = [ref]
                ds.save_as("{{original}}")
                """);
            Assert.True(made.ExitCode == 0, made.Stderr);
            var output = Path.Combine(dir.FullName, "anonymized.dcm");
            new Anonymizer(new AnonymizationOptions()).Anonymize(DicomFile.Open(original)).Save(output);
            Assert.False(DicomFile.Open(output).Dataset.Contains(DicomTags.ReferencedStudySequence));
            var added = IodErrors(output).Except(IodErrors(original)).ToList();
            Assert.True(added.Count == 0, string.Join("\n", added));
        }
        finally { dir.Delete(true); }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Modified_file_has_no_IOD_error_the_original_did_not_have(string name)
    {
        var dir = Directory.CreateTempSubdirectory("modify-");
        try
        {
            var original = Path.Combine(Peers.PydicomDir("test_files"), name);
            var output = Path.Combine(dir.FullName, name);
            var modified = new DicomModifier(new ModificationOptions
            {
                Level = ModificationLevel.Study,
                Replace = new Dictionary<DicomTag, string> { [DicomTags.StudyDescription] = "Modified", [DicomTags.PatientName] = "Renamed^Patient" },
                Remove = new HashSet<DicomTag> { DicomTags.StationName },
                RemovePrivateTags = true,
            }).Modify(DicomFile.Open(original));
            modified.Save(output);
            var added = IodErrors(output).Except(IodErrors(original)).ToList();
            Assert.True(added.Count == 0, string.Join("\n", added));
            Assert.Equal("Modified", DicomFile.Open(output).Dataset.GetString(DicomTags.StudyDescription));
        }
        finally { dir.Delete(true); }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_attribute_the_profile_lists_is_removed_or_replaced(string name)
    {
        var source = Open(name);
        var anonymizer = new Anonymizer(new AnonymizationOptions());
        var result = anonymizer.Anonymize(source).Dataset;
        var checkedCount = Check(source.Dataset, result, anonymizer);
        Assert.True(checkedCount > 3, $"only {checkedCount} profile attributes in {name}");
        Assert.Equal("YES", result.GetString(DicomTags.PatientIdentityRemoved));
        Assert.Equal("113100", result.GetSequence(DicomTags.DeidentificationMethodCodeSequence)!.Items[0].GetString(DicomTags.CodeValue));
        Assert.Equal(anonymizer.PatientId, result.GetString(DicomTags.PatientID));
        Assert.DoesNotContain(result, i => i.Tag.IsPrivate);
    }

    /// <summary>Walks the original; for every attribute the profile names, asserts what became of it. Returns how many.</summary>
    private static int Check(DicomDataset before, DicomDataset after, Anonymizer anonymizer)
    {
        var n = 0;
        foreach (var item in before)
        {
            if (item.Tag.IsPrivate || item.Tag == DicomTags.PatientID || item.Tag == DicomTags.PatientName) continue;
            var hasValue = item is DicomElement e ? e.Length > 0 : item is not DicomSequence s || s.Items.Count > 0;
            var action = anonymizer.ActionFor(item.Tag, hasValue);
            if (action is null) continue;
            n++;
            var now = after[item.Tag];
            switch (action)
            {
                case ProfileAction.Remove:
                    Assert.Null(now);
                    break;
                case ProfileAction.ZeroLength:
                    Assert.True(now is DicomElement { Length: 0 } || now is DicomSequence { Items.Count: 0 }, $"{item.Tag} should be empty");
                    break;
                case ProfileAction.Dummy when item is DicomElement original:
                    var replaced = Assert.IsType<DicomElement>(now);
                    Assert.True(replaced.Length > 0);
                    Assert.False(original.Buffer.Memory.Span.SequenceEqual(replaced.Buffer.Memory.Span) && original.Length > 8, $"{item.Tag} kept its value");
                    break;
                case ProfileAction.ReplaceUid when hasValue:
                    var oldUid = before.GetString(item.Tag)!.Split('\\')[0];
                    var newUid = after.GetString(item.Tag)!.Split('\\')[0];
                    Assert.NotEqual(oldUid, newUid);
                    Assert.Equal(anonymizer.Uids[oldUid], newUid);
                    Assert.StartsWith("2.25.", newUid);
                    break;
            }
            if (item is DicomSequence seq && now is DicomSequence kept && kept.Items.Count == seq.Items.Count)
                for (var i = 0; i < seq.Items.Count; i++) n += Check(seq.Items[i], kept.Items[i], anonymizer);
        }
        return n;
    }

    [Fact]
    public void One_operation_keeps_the_hierarchy_and_references_consistent()
    {
        // Two instances of one series (the second given another SOP Instance UID and a reference to the first).
        var first = Open("CT_small.dcm");
        var second = Open("CT_small.dcm");
        var firstUid = first.Dataset.GetString(DicomTags.SOPInstanceUID)!;
        second.Dataset.Add(DicomTags.SOPInstanceUID, DicomVR.UI, "1.2.3.4.5.6.7");
        var reference = new DicomDataset();
        reference.Add(DicomTags.ReferencedSOPClassUID, DicomVR.UI, first.Dataset.GetString(DicomTags.SOPClassUID)!);
        reference.Add(DicomTags.ReferencedSOPInstanceUID, DicomVR.UI, firstUid);
        second.Dataset.AddSequence(DicomTags.SourceImageSequence, reference);

        var anonymizer = new Anonymizer(new AnonymizationOptions { PatientName = "TRIAL^ONE", PatientId = "TRIAL-001" });
        var a = anonymizer.Anonymize(first).Dataset;
        var b = anonymizer.Anonymize(second).Dataset;
        Assert.Equal(a.GetString(DicomTags.StudyInstanceUID), b.GetString(DicomTags.StudyInstanceUID));
        Assert.Equal(a.GetString(DicomTags.SeriesInstanceUID), b.GetString(DicomTags.SeriesInstanceUID));
        Assert.Equal(a.GetString(DicomTags.FrameOfReferenceUID), b.GetString(DicomTags.FrameOfReferenceUID));
        Assert.NotEqual(a.GetString(DicomTags.SOPInstanceUID), b.GetString(DicomTags.SOPInstanceUID));
        Assert.NotEqual(first.Dataset.GetString(DicomTags.StudyInstanceUID), a.GetString(DicomTags.StudyInstanceUID));
        Assert.Equal(a.GetString(DicomTags.SOPInstanceUID),
            b.GetSequence(DicomTags.SourceImageSequence)!.Items[0].GetString(DicomTags.ReferencedSOPInstanceUID));
        Assert.Equal("TRIAL^ONE", b.GetString(DicomTags.PatientName));
        Assert.Equal("TRIAL-001", a.GetString(DicomTags.PatientID));
        // The meta group follows the new identity.
        Assert.Equal(anonymizer.Uids[firstUid], anonymizer.Anonymize(first).FileMetaInfo.GetString(DicomTags.MediaStorageSOPInstanceUID));
        Assert.Equal(anonymizer.Uids[firstUid], a.GetString(DicomTags.SOPInstanceUID));
    }

    [Fact]
    public void Options_retain_what_they_name_and_nothing_else()
    {
        var source = Open("CT_small.dcm");
        source.Dataset.Add(DicomTags.DeviceSerialNumber, DicomVR.LO, "SN-12345");
        source.Dataset.Add(DicomTags.StationName, DicomVR.SH, "CTSTATION1");
        source.Dataset.Add(DicomTags.PatientSex, DicomVR.CS, "F");
        source.Dataset.Add(DicomTags.PatientAge, DicomVR.AS, "042Y");

        var plain = new Anonymizer(new AnonymizationOptions()).Anonymize(source).Dataset;
        Assert.Equal("", plain.GetString(DicomTags.StudyDate));
        Assert.Null(plain.GetString(DicomTags.PatientAge));
        Assert.Equal("", plain.GetString(DicomTags.PatientSex));
        Assert.NotEqual("SN-12345", plain.GetString(DicomTags.DeviceSerialNumber));
        Assert.Equal("REMOVED", plain.GetString(DicomTags.LongitudinalTemporalInformationModified));

        var retained = new Anonymizer(new AnonymizationOptions
        {
            RetainLongFullDates = true,
            RetainDeviceIdentity = true,
            RetainPatientCharacteristics = true,
            KeepPrivateTags = true,
        }).Anonymize(source).Dataset;
        Assert.Equal(source.Dataset.GetString(DicomTags.StudyDate), retained.GetString(DicomTags.StudyDate));
        Assert.Equal("SN-12345", retained.GetString(DicomTags.DeviceSerialNumber));
        Assert.Equal("CTSTATION1", retained.GetString(DicomTags.StationName));
        Assert.Equal("F", retained.GetString(DicomTags.PatientSex));
        Assert.Equal("042Y", retained.GetString(DicomTags.PatientAge));
        Assert.Contains(retained, i => i.Tag.IsPrivate);
        Assert.Equal("UNMODIFIED", retained.GetString(DicomTags.LongitudinalTemporalInformationModified));
        // The patient's identity goes whatever the options.
        Assert.NotEqual(source.Dataset.GetString(DicomTags.PatientName), retained.GetString(DicomTags.PatientName));
        var codes = retained.GetSequence(DicomTags.DeidentificationMethodCodeSequence)!.Items.Select(i => i.GetString(DicomTags.CodeValue)).ToList();
        Assert.Equal(["113100", "113106", "113108", "113109", "113111"], codes);
    }

    [Fact]
    public void Explicit_keep_remove_and_replace_lists_override_the_profile()
    {
        var source = Open("CT_small.dcm");
        var result = new Anonymizer(new AnonymizationOptions
        {
            Keep = new HashSet<DicomTag> { DicomTags.StudyDescription, DicomTags.SeriesInstanceUID },
            Remove = new HashSet<DicomTag> { DicomTags.Modality },
            Replace = new Dictionary<DicomTag, string> { [DicomTags.InstitutionName] = "TRIAL SITE 7" },
        }).Anonymize(source).Dataset;
        Assert.Equal(source.Dataset.GetString(DicomTags.StudyDescription), result.GetString(DicomTags.StudyDescription));
        Assert.Equal(source.Dataset.GetString(DicomTags.SeriesInstanceUID), result.GetString(DicomTags.SeriesInstanceUID));
        Assert.Null(result.GetString(DicomTags.Modality));
        Assert.Equal("TRIAL SITE 7", result.GetString(DicomTags.InstitutionName));
    }

    [Fact]
    public void Modifier_gives_new_identities_at_the_level_asked_and_needs_force_for_identifiers()
    {
        var source = Open("CT_small.dcm");
        var ds = source.Dataset;
        var series = new DicomModifier(new ModificationOptions
        {
            Level = ModificationLevel.Series,
            Replace = new Dictionary<DicomTag, string> { [DicomTags.SeriesDescription] = "Corrected" },
            Remove = new HashSet<DicomTag> { DicomTags.StationName },
        }).Modify(source).Dataset;
        Assert.Equal(ds.GetString(DicomTags.StudyInstanceUID), series.GetString(DicomTags.StudyInstanceUID));
        Assert.NotEqual(ds.GetString(DicomTags.SeriesInstanceUID), series.GetString(DicomTags.SeriesInstanceUID));
        Assert.NotEqual(ds.GetString(DicomTags.SOPInstanceUID), series.GetString(DicomTags.SOPInstanceUID));
        Assert.Equal("Corrected", series.GetString(DicomTags.SeriesDescription));
        Assert.Null(series.GetString(DicomTags.StationName));
        Assert.Equal(ds.GetString(DicomTags.PatientName), series.GetString(DicomTags.PatientName));

        var ex = Assert.Throws<ArgumentException>(() => new DicomModifier(new ModificationOptions
        {
            Level = ModificationLevel.Study,
            Replace = new Dictionary<DicomTag, string> { [DicomTags.StudyInstanceUID] = "1.2.3" },
        }));
        Assert.Contains("Force", ex.Message);
        Assert.Throws<ArgumentException>(() => new DicomModifier(new ModificationOptions { Level = ModificationLevel.Patient }));

        // In place: every UID kept (with Force), the file differs only in what was replaced.
        var inPlace = new DicomModifier(new ModificationOptions
        {
            Level = ModificationLevel.Study,
            Force = true,
            Keep = new HashSet<DicomTag> { DicomTags.StudyInstanceUID, DicomTags.SeriesInstanceUID, DicomTags.SOPInstanceUID },
            Replace = new Dictionary<DicomTag, string> { [DicomTags.StudyDescription] = "Fixed" },
        }).Modify(source).Dataset;
        Assert.Equal(ds.GetString(DicomTags.SOPInstanceUID), inPlace.GetString(DicomTags.SOPInstanceUID));
        Assert.Equal("Fixed", inPlace.GetString(DicomTags.StudyDescription));
    }

    [Fact]
    public void A_keyed_map_gives_the_same_answers_to_operations_run_apart()
    {
        var source = Open("CT_small.dcm");
        var one = new Anonymizer(new AnonymizationOptions(), new UidMap("route-secret")).Anonymize(source).Dataset;
        var two = new Anonymizer(new AnonymizationOptions(), new UidMap("route-secret")).Anonymize(source).Dataset;
        var other = new Anonymizer(new AnonymizationOptions(), new UidMap("another-secret")).Anonymize(source).Dataset;
        foreach (var tag in new[] { DicomTags.StudyInstanceUID, DicomTags.SeriesInstanceUID, DicomTags.SOPInstanceUID, DicomTags.PatientID, DicomTags.PatientName })
        {
            Assert.Equal(one.GetString(tag), two.GetString(tag));
            Assert.NotEqual(one.GetString(tag), other.GetString(tag));
            Assert.NotEqual(source.Dataset.GetString(tag), one.GetString(tag));
        }
        Assert.True(one.GetString(DicomTags.SOPInstanceUID)!.Length <= 64);
    }
}
