namespace OrthancWeb.Dicom.Data;

/// <summary>Anything a data set holds under a tag: a plain element, a sequence, or encapsulated pixel data.</summary>
public abstract class DicomItem(DicomTag tag, DicomVR vr)
{
    public DicomTag Tag { get; } = tag;
    public DicomVR VR { get; internal set; } = vr;

    public override string ToString() => $"{Tag} {VR}";
}

/// <summary>A data element with a value of any VR but SQ (PS3.5 §7.1).</summary>
public sealed class DicomElement(DicomTag tag, DicomVR vr, DicomBuffer buffer) : DicomItem(tag, vr)
{
    public DicomBuffer Buffer { get; internal set; } = buffer;

    public long Length => Buffer.Length;
}

/// <summary>A sequence of items (PS3.5 §7.5). Remembers whether it came with undefined length so a rewrite is identical.</summary>
public sealed class DicomSequence : DicomItem
{
    public DicomSequence(DicomTag tag, IEnumerable<DicomDataset>? items = null) : base(tag, DicomVR.SQ)
    {
        if (items is not null)
            foreach (var i in items) Items.Add(i);
    }

    public List<DicomDataset> Items { get; } = [];

    public bool UndefinedLength { get; set; }
}

/// <summary>Encapsulated pixel data (PS3.5 §A.4): a Basic Offset Table item, then one or more fragments.</summary>
public sealed class DicomFragmentSequence(DicomTag tag, DicomVR vr) : DicomItem(tag, vr)
{
    public DicomBuffer OffsetTable { get; set; } = DicomBuffer.Empty;

    public List<DicomBuffer> Fragments { get; } = [];
}
