using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Dicom.Media;

/// <summary>
/// Builds the DICOMDIR of a file-set (PS3.10 §8, Basic Directory IOD of PS3.3 Annex F): a PATIENT / STUDY / SERIES /
/// instance record tree whose links are byte offsets from the start of the DICOMDIR file (PS3.3 §F.3.2.1). Instances
/// are added as they are written to the medium; the DICOMDIR is produced last, with every offset computed.
/// </summary>
public sealed class DicomDirectory
{
    private sealed class Node(DicomDataset record)
    {
        public DicomDataset Record { get; } = record;
        public List<Node> Children { get; } = [];
        public Dictionary<string, Node> ByKey { get; } = new(StringComparer.Ordinal);
    }

    /// <summary>Media Storage Directory Storage SOP Class (PS3.4 Annex I).</summary>
    public const string MediaStorageDirectoryStorage = "1.2.840.10008.1.3.10";

    private readonly Node _root = new(new DicomDataset());

    /// <summary>How many instances have been added.</summary>
    public int Count { get; private set; }

    /// <summary>Components of a File ID (PS3.10 §8.2; PS3.11 §8.5 for the General Purpose profiles): 1 to 8 of them, each 1-8 of A-Z 0-9 _.</summary>
    public static bool IsValidFileId(IReadOnlyList<string> components) =>
        components.Count is >= 1 and <= 8 && components.All(c => c.Length is >= 1 and <= 8 && c.All(ch => ch is (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_'));

    /// <summary>Adds an instance stored under <paramref name="fileId"/> in the file-set, with the transfer syntax it is written in.</summary>
    public void Add(DicomDataset instance, IReadOnlyList<string> fileId, string transferSyntaxUid)
    {
        if (!IsValidFileId(fileId)) throw new ArgumentException($"Not a valid File ID: {string.Join('\\', fileId)}", nameof(fileId));
        var patient = Child(_root, instance.GetStringOrEmpty(DicomTags.PatientID), () => PatientRecord(instance));
        var study = Child(patient, instance.GetStringOrEmpty(DicomTags.StudyInstanceUID), () => StudyRecord(instance));
        var series = Child(study, instance.GetStringOrEmpty(DicomTags.SeriesInstanceUID), () => SeriesRecord(instance));
        series.Children.Add(new Node(InstanceRecord(instance, fileId, transferSyntaxUid)));
        Count++;
    }

    private static Node Child(Node parent, string key, Func<DicomDataset> create)
    {
        if (!parent.ByKey.TryGetValue(key, out var node))
        {
            node = new Node(create());
            parent.ByKey[key] = node;
            parent.Children.Add(node);
        }
        return node;
    }

    private static DicomDataset NewRecord(string type, DicomDataset source)
    {
        var r = new DicomDataset();
        r.Add(DicomTags.OffsetOfTheNextDirectoryRecord, DicomVR.UL, 0u);
        r.Add(DicomTags.RecordInUseFlag, DicomVR.US, (ushort)0xFFFF);
        r.Add(DicomTags.OffsetOfReferencedLowerLevelDirectoryEntity, DicomVR.UL, 0u);
        r.Add(DicomTags.DirectoryRecordType, DicomVR.CS, type);
        // Keys keep their encoded bytes, so the record needs the instance's character set (PS3.3 §F.5: type 1C).
        if (source[DicomTags.SpecificCharacterSet] is DicomElement cs && cs.Length > 0) r.AddOrUpdate(cs);
        return r;
    }

    private static void Copy(DicomDataset from, DicomDataset to, DicomTag tag, string? inventedIfMissing = null)
    {
        if (from[tag] is DicomElement e && e.Length > 0) to.AddOrUpdate(new DicomElement(tag, e.VR, e.Buffer));
        else if (inventedIfMissing is not null) to.Add(tag, inventedIfMissing);
        else to.AddOrUpdate(new DicomElement(tag, DicomValues.DefaultVR(tag, to), DicomBuffer.Empty));
    }

    // Required keys of each record type (PS3.3 Annex F.5). A type 1 key the instance lacks gets an invented value,
    // as dcmmkdir --invent does, since a record without it is not a valid record.
    private static DicomDataset PatientRecord(DicomDataset i)
    {
        var r = NewRecord("PATIENT", i);
        Copy(i, r, DicomTags.PatientName);
        Copy(i, r, DicomTags.PatientID, "UNKNOWN");
        return r;
    }

    private static DicomDataset StudyRecord(DicomDataset i)
    {
        var r = NewRecord("STUDY", i);
        Copy(i, r, DicomTags.StudyDate, "19000101");
        Copy(i, r, DicomTags.StudyTime, "000000");
        Copy(i, r, DicomTags.StudyDescription);
        Copy(i, r, DicomTags.StudyInstanceUID);
        Copy(i, r, DicomTags.StudyID, "1");
        Copy(i, r, DicomTags.AccessionNumber);
        return r;
    }

    private static DicomDataset SeriesRecord(DicomDataset i)
    {
        var r = NewRecord("SERIES", i);
        Copy(i, r, DicomTags.Modality, "OT");
        Copy(i, r, DicomTags.SeriesInstanceUID);
        Copy(i, r, DicomTags.SeriesNumber, "1");
        return r;
    }

    /// <summary>The record type for an instance's SOP class (PS3.3 Table F.4-1), IMAGE for images and anything not listed here.</summary>
    public static string RecordType(string sopClassUid) => sopClassUid switch
    {
        "1.2.840.10008.5.1.4.1.1.481.2" => "RT DOSE",
        "1.2.840.10008.5.1.4.1.1.481.3" => "RT STRUCTURE SET",
        "1.2.840.10008.5.1.4.1.1.481.5" or "1.2.840.10008.5.1.4.1.1.481.8" => "RT PLAN",
        "1.2.840.10008.5.1.4.1.1.481.4" => "RT TREAT RECORD",
        "1.2.840.10008.5.1.4.1.1.104.1" => "ENCAP DOC",
        "1.2.840.10008.5.1.4.1.1.66" => "RAW DATA",
        var s when s.StartsWith("1.2.840.10008.5.1.4.1.1.88.", StringComparison.Ordinal) => "SR DOCUMENT",
        var s when s.StartsWith("1.2.840.10008.5.1.4.1.1.11.", StringComparison.Ordinal) => "PRESENTATION",
        var s when s.StartsWith("1.2.840.10008.5.1.4.1.1.9.", StringComparison.Ordinal) => "WAVEFORM",
        _ => "IMAGE",
    };

    private static readonly (DicomTag, string?)[] DefaultKeys = [(DicomTags.InstanceNumber, "1")];

    /// <summary>Keys of each instance-level record type (PS3.3 §F.5), with the value invented when a type 1 key is missing.</summary>
    private static readonly Dictionary<string, (DicomTag Tag, string? Invented)[]> RecordKeys = new()
    {
        ["RT DOSE"] = [(DicomTags.InstanceNumber, "1"), (DicomTags.DoseSummationType, "PLAN")],
        ["RT STRUCTURE SET"] = [(DicomTags.InstanceNumber, "1"), (DicomTags.StructureSetLabel, "UNKNOWN"), (DicomTags.StructureSetDate, null), (DicomTags.StructureSetTime, null)],
        ["RT PLAN"] = [(DicomTags.InstanceNumber, "1"), (DicomTags.RTPlanLabel, "UNKNOWN"), (DicomTags.RTPlanDate, null), (DicomTags.RTPlanTime, null)],
        ["SR DOCUMENT"] = [(DicomTags.InstanceNumber, "1"), (DicomTags.CompletionFlag, "PARTIAL"), (DicomTags.VerificationFlag, "UNVERIFIED"),
            (DicomTags.ContentDate, "19000101"), (DicomTags.ContentTime, "000000")],
        ["PRESENTATION"] = [(DicomTags.PresentationCreationDate, "19000101"), (DicomTags.PresentationCreationTime, "000000"),
            (DicomTags.InstanceNumber, "1"), (DicomTags.ContentLabel, "UNKNOWN")],
    };

    private static DicomDataset InstanceRecord(DicomDataset i, IReadOnlyList<string> fileId, string transferSyntaxUid)
    {
        var sopClass = i.GetStringOrEmpty(DicomTags.SOPClassUID);
        var type = RecordType(sopClass);
        var r = NewRecord(type, i);
        r.Add(DicomTags.ReferencedFileID, DicomVR.CS, [.. fileId]);
        r.Add(DicomTags.ReferencedSOPClassUIDInFile, DicomVR.UI, sopClass);
        r.Add(DicomTags.ReferencedSOPInstanceUIDInFile, DicomVR.UI, i.GetStringOrEmpty(DicomTags.SOPInstanceUID));
        r.Add(DicomTags.ReferencedTransferSyntaxUIDInFile, DicomVR.UI, transferSyntaxUid);
        foreach (var (tag, invented) in RecordKeys.GetValueOrDefault(type, DefaultKeys))
            Copy(i, r, tag, invented);
        // 1C: the latest verification, when the document is verified (PS3.3 §F.5.21).
        if (type == "SR DOCUMENT" && i.GetString(DicomTags.VerificationFlag) == "VERIFIED" &&
            i.GetSequence(DicomTags.VerifyingObserverSequence)?.Items.Select(o => o.GetString(DicomTags.VerificationDateTime)).Where(t => !string.IsNullOrEmpty(t)).Max() is { } verified)
            r.Add(DicomTags.VerificationDateTime, DicomVR.DT, verified);
        if (type == "SR DOCUMENT" && i.GetSequence(DicomTags.ConceptNameCodeSequence) is { } concept) r.AddOrUpdate(concept);
        return r;
    }

    /// <summary>
    /// The DICOMDIR file: records in depth-first order (each patient, then its studies, each study then its series...),
    /// linked by offsets. Offsets are 4-byte UL values, so every record's size is known before they are filled in.
    /// </summary>
    public DicomFile ToFile(string fileSetId = "", string? fileSetUid = null)
    {
        var syntax = TransferSyntax.ExplicitVRLittleEndian;
        var ds = new DicomDataset();
        ds.Add(DicomTags.FileSetID, DicomVR.CS, fileSetId);
        ds.Add(DicomTags.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity, DicomVR.UL, 0u);
        ds.Add(DicomTags.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity, DicomVR.UL, 0u);
        ds.Add(DicomTags.FileSetConsistencyFlag, DicomVR.US, (ushort)0);
        var sequence = new DicomSequence(DicomTags.DirectoryRecordSequence); // defined lengths: offsets must not depend on delimiters
        ds.AddOrUpdate(sequence);
        var file = new DicomFile(ds, syntax);
        file.Dataset.Add(DicomTags.SOPClassUID, DicomVR.UI, MediaStorageDirectoryStorage);
        file.Dataset.Add(DicomTags.SOPInstanceUID, DicomVR.UI, fileSetUid ?? Anonymization.UidMap.NewUid());
        file.UpdateFileMetaInfo();
        // Media Storage SOP Class/Instance are meta information only for a DICOMDIR: not in its data set.
        file.Dataset.Remove(DicomTags.SOPClassUID);
        file.Dataset.Remove(DicomTags.SOPInstanceUID);

        // The first record starts where the empty file ends: preamble, meta group, and the elements up to the sequence.
        long position = file.ToBytes().LongLength;
        var order = new List<Node>();
        void Walk(Node n) { foreach (var c in n.Children) { order.Add(c); Walk(c); } }
        Walk(_root);
        var offsets = new Dictionary<Node, uint>();
        foreach (var node in order)
        {
            offsets[node] = checked((uint)position);
            position += 8 + DicomWriter.DatasetLength(node.Record, syntax);
        }
        void Link(Node parent)
        {
            for (var k = 0; k < parent.Children.Count; k++)
            {
                var c = parent.Children[k];
                c.Record.Add(DicomTags.OffsetOfTheNextDirectoryRecord, DicomVR.UL, k + 1 < parent.Children.Count ? offsets[parent.Children[k + 1]] : 0u);
                c.Record.Add(DicomTags.OffsetOfReferencedLowerLevelDirectoryEntity, DicomVR.UL, c.Children.Count > 0 ? offsets[c.Children[0]] : 0u);
                Link(c);
            }
        }
        Link(_root);
        if (_root.Children.Count > 0)
        {
            ds.Add(DicomTags.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity, DicomVR.UL, offsets[_root.Children[0]]);
            ds.Add(DicomTags.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity, DicomVR.UL, offsets[_root.Children[^1]]);
        }
        foreach (var node in order) sequence.Items.Add(node.Record);
        return file;
    }
}
