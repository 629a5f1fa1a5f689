using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace OrthancWeb.Dicom.Data;

/// <summary>
/// A data set (PS3.5 §7): elements kept in ascending tag order, values held as encoded bytes and converted when read,
/// so that reading and writing back a file changes nothing. Items of sequences are data sets too; they inherit
/// Specific Character Set from the data set that contains them (PS3.5 §7.5.3).
/// </summary>
public sealed class DicomDataset : IEnumerable<DicomItem>
{
    private readonly List<DicomItem> _items = [];
    private DicomCharacterSet? _characterSet;

    public DicomDataset() { }

    public DicomDataset(IEnumerable<DicomItem> items)
    {
        foreach (var i in items) AddOrUpdate(i);
    }

    /// <summary>The data set holding the sequence this item belongs to, or null at the top level.</summary>
    public DicomDataset? Parent { get; internal set; }

    /// <summary>For items: encoded with undefined length and an Item Delimitation Item (kept for identical rewrites).</summary>
    public bool UndefinedLength { get; set; }

    public int Count => _items.Count;

    public IEnumerator<DicomItem> GetEnumerator() => _items.GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    // ---- structure ----

    private int IndexOf(DicomTag tag)
    {
        int lo = 0, hi = _items.Count - 1;
        var key = tag.Value;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var v = _items[mid].Tag.Value;
            if (v == key) return mid;
            if (v < key) lo = mid + 1; else hi = mid - 1;
        }
        return ~lo;
    }

    public bool Contains(DicomTag tag) => IndexOf(tag) >= 0;

    public DicomItem? this[DicomTag tag] => IndexOf(tag) is var i and >= 0 ? _items[i] : null;

    public bool TryGet(DicomTag tag, out DicomItem item)
    {
        var i = IndexOf(tag);
        item = i >= 0 ? _items[i] : null!;
        return i >= 0;
    }

    public T? Get<T>(DicomTag tag) where T : DicomItem => this[tag] as T;

    /// <summary>Adds or replaces the item with the same tag, keeping tag order.</summary>
    public DicomDataset AddOrUpdate(DicomItem item)
    {
        if (item is DicomSequence seq)
            foreach (var child in seq.Items) child.Parent = this;
        if (_items.Count == 0 || _items[^1].Tag.Value < item.Tag.Value)
            _items.Add(item); // the common case while reading: tags arrive in order
        else
        {
            var i = IndexOf(item.Tag);
            if (i >= 0) _items[i] = item; else _items.Insert(~i, item);
        }
        if (item.Tag == DicomTags.SpecificCharacterSet) _characterSet = null;
        return this;
    }

    /// <summary>Appends while reading; returns false when the tag is not greater than the previous one.</summary>
    internal bool Append(DicomItem item)
    {
        if (item is DicomSequence seq)
            foreach (var child in seq.Items) child.Parent = this;
        if (_items.Count > 0 && _items[^1].Tag.Value >= item.Tag.Value)
        {
            AddOrUpdate(item);
            return false;
        }
        _items.Add(item);
        return true;
    }

    public bool Remove(DicomTag tag)
    {
        var i = IndexOf(tag);
        if (i < 0) return false;
        _items.RemoveAt(i);
        if (tag == DicomTags.SpecificCharacterSet) _characterSet = null;
        return true;
    }

    public void RemoveAll(Predicate<DicomItem> match) => _items.RemoveAll(match);

    public void Clear() => _items.Clear();

    /// <summary>A deep copy; values are immutable buffers and are shared.</summary>
    public DicomDataset Clone()
    {
        var copy = new DicomDataset { UndefinedLength = UndefinedLength };
        foreach (var item in _items)
        {
            copy._items.Add(item switch
            {
                DicomSequence s => CloneSequence(s, copy),
                DicomFragmentSequence f => CloneFragments(f),
                DicomElement e => new DicomElement(e.Tag, e.VR, e.Buffer),
                _ => item,
            });
        }
        return copy;
    }

    /// <summary>
    /// The items whose tags <paramref name="keep"/> selects (sequences shared, not copied), read with the character set
    /// in force here even when Specific Character Set itself is not kept: an extract of a file (one module's attributes)
    /// decodes its text as the file does (PS3.5 §6.1.2.5.3).
    /// </summary>
    public DicomDataset Extract(Predicate<DicomTag> keep)
    {
        var extract = new DicomDataset { _characterSet = CharacterSet };
        foreach (var item in _items)
            if (keep(item.Tag)) extract._items.Add(item);
        return extract;
    }

    private static DicomSequence CloneSequence(DicomSequence s, DicomDataset parent)
    {
        var c = new DicomSequence(s.Tag) { UndefinedLength = s.UndefinedLength };
        foreach (var i in s.Items)
        {
            var child = i.Clone();
            child.Parent = parent;
            c.Items.Add(child);
        }
        return c;
    }

    private static DicomFragmentSequence CloneFragments(DicomFragmentSequence f)
    {
        var c = new DicomFragmentSequence(f.Tag, f.VR) { OffsetTable = f.OffsetTable };
        c.Fragments.AddRange(f.Fragments);
        return c;
    }

    // ---- character set ----

    /// <summary>Specific Character Set in force here: this data set's own, else the enclosing one's.</summary>
    public DicomCharacterSet CharacterSet
    {
        get
        {
            if (_characterSet is not null) return _characterSet;
            if (this[DicomTags.SpecificCharacterSet] is DicomElement e)
                return _characterSet = DicomCharacterSet.FromValue(Encoding.ASCII.GetString(e.Buffer.Memory.Span));
            return Parent?.CharacterSet ?? DicomCharacterSet.Fallback;
        }
    }

    // ---- reading values ----

    /// <summary>The whole value as text: strings decoded and stripped of padding, numbers formatted, values joined by '\'.</summary>
    public string? GetString(DicomTag tag) => Readable(tag) is { } e ? DicomValues.ToText(e, CharacterSet) : null;

    /// <summary>
    /// The element to read values from. A UN element whose tag the dictionary knows is read with the dictionary's VR:
    /// its value is that VR's implicit little endian encoding (PS3.5 §6.2.2), so a date or UID that went through a
    /// system which did not know it reads as the date or UID it is (the element itself, and the file, stay UN).
    /// </summary>
    private DicomElement? Readable(DicomTag tag)
    {
        if (this[tag] is not DicomElement e) return null;
        var vr = ValueVR(e);
        return vr == e.VR ? e : new DicomElement(tag, vr, e.Buffer);
    }

    /// <summary>The VR an element's value is read with: its own, or for a UN element the dictionary's (not SQ).</summary>
    internal DicomVR ValueVR(DicomItem item)
    {
        if (item.VR != DicomVR.UN || item is not DicomElement) return item.VR;
        var known = IO.DicomReader.ImplicitVR(this, item.Tag);
        return known == DicomVR.SQ ? DicomVR.UN : known;
    }

    public string? GetString(string keyword) => GetString(DicomTag.Parse(keyword));

    public string GetStringOrEmpty(DicomTag tag) => GetString(tag) ?? "";

    /// <summary>Every value of a multi-valued element (backslash-separated text or binary numbers).</summary>
    public string[] GetStrings(DicomTag tag)
    {
        if (Readable(tag) is not { } e) return [];
        return DicomValues.ToStrings(e, CharacterSet);
    }

    public int GetValueCount(DicomTag tag) => ((DicomItem?)Readable(tag) ?? this[tag]) switch
    {
        DicomElement e when e.Length == 0 => 0,
        DicomElement e when e.VR.Kind is VRKind.Binary or VRKind.AttributeTag => (int)(e.Length / (e.VR.Kind == VRKind.AttributeTag ? 4 : e.VR.UnitSize)),
        DicomElement e when e.VR.IsMultiValued => GetStrings(tag).Length,
        DicomElement => 1,
        DicomSequence s => s.Items.Count,
        DicomFragmentSequence => 1,
        _ => 0,
    };

    /// <summary>Value number <paramref name="index"/> converted to T (numbers, strings, tags, dates and times).</summary>
    public T GetValue<T>(DicomTag tag, int index = 0)
    {
        if (TryGetValue<T>(tag, index, out var v)) return v;
        throw new KeyNotFoundException($"{tag} has no value {index} convertible to {typeof(T).Name}");
    }

    public T GetValueOrDefault<T>(DicomTag tag, int index, T defaultValue) =>
        TryGetValue<T>(tag, index, out var v) ? v : defaultValue;

    public bool TryGetValue<T>(DicomTag tag, int index, out T value)
    {
        value = default!;
        if (Readable(tag) is not { Length: > 0 } e) return false;
        return DicomValues.TryConvert(e, index, CharacterSet, out value);
    }

    public T[] GetValues<T>(DicomTag tag)
    {
        var n = GetValueCount(tag);
        var result = new List<T>(n);
        for (var i = 0; i < n; i++)
            if (TryGetValue<T>(tag, i, out var v)) result.Add(v);
        return result.ToArray();
    }

    public DicomPersonName? GetPersonName(DicomTag tag) => GetString(tag) is { } s ? new DicomPersonName(s) : null;

    public DateOnly? GetDate(DicomTag tag) => TryGetValue<DateOnly>(tag, 0, out var d) ? d : null;

    public TimeOnly? GetTime(DicomTag tag) => TryGetValue<TimeOnly>(tag, 0, out var t) ? t : null;

    public DateTime? GetDateTime(DicomTag tag) => TryGetValue<DateTime>(tag, 0, out var t) ? t : null;

    /// <summary>A date and a time element combined, e.g. StudyDate + StudyTime.</summary>
    public DateTime? GetDateTime(DicomTag dateTag, DicomTag timeTag)
    {
        var d = GetDate(dateTag);
        if (d is null) return null;
        return d.Value.ToDateTime(GetTime(timeTag) ?? TimeOnly.MinValue);
    }

    public DicomSequence? GetSequence(DicomTag tag) => this[tag] as DicomSequence;

    public ReadOnlyMemory<byte> GetBytes(DicomTag tag) => this[tag] is DicomElement e ? e.Buffer.Memory : ReadOnlyMemory<byte>.Empty;

    // ---- writing values ----

    /// <summary>Sets text values (joined by '\'), encoded in the data set's character set, with the dictionary's VR.</summary>
    public DicomDataset Add(DicomTag tag, params string[] values) => Add(tag, DicomValues.DefaultVR(tag, this), values);

    public DicomDataset Add(DicomTag tag, DicomVR vr, params string[] values)
    {
        var bytes = DicomValues.FromStrings(vr, values, CharacterSet);
        return AddOrUpdate(new DicomElement(tag, vr, DicomBuffer.From(bytes)));
    }

    /// <summary>Sets numeric, tag, date or time values with the dictionary's VR.</summary>
    public DicomDataset Add<T>(DicomTag tag, params T[] values) where T : notnull =>
        Add(tag, DicomValues.DefaultVR(tag, this), values);

    public DicomDataset Add<T>(DicomTag tag, DicomVR vr, params T[] values) where T : notnull
    {
        if (values is string[] s) return Add(tag, vr, s);
        return AddOrUpdate(new DicomElement(tag, vr, DicomBuffer.From(DicomValues.FromValues(vr, values, CharacterSet))));
    }

    public DicomDataset AddBytes(DicomTag tag, DicomVR vr, ReadOnlyMemory<byte> bytes) =>
        AddOrUpdate(new DicomElement(tag, vr, DicomBuffer.From(bytes)));

    public DicomDataset AddSequence(DicomTag tag, params DicomDataset[] items) => AddOrUpdate(new DicomSequence(tag, items));

    // ---- private blocks (PS3.5 §7.8) ----

    /// <summary>The creator string that reserved a private element's block, if any.</summary>
    public string? GetPrivateCreator(DicomTag tag) =>
        tag.IsPrivate && !tag.IsPrivateCreator && tag.Element >= 0x1000 ? GetString(tag.PrivateCreatorTag) : null;

    /// <summary>
    /// The tag of element <paramref name="elementByte"/> in the block that <paramref name="creator"/> holds in
    /// <paramref name="group"/>, reserving the first free block when the creator has none yet.
    /// </summary>
    public DicomTag GetPrivateTag(ushort group, string creator, byte elementByte, bool reserve = true)
    {
        if ((group & 1) == 0) throw new ArgumentException("private groups are odd", nameof(group));
        for (ushort block = 0x10; block <= 0xFF; block++)
        {
            var creatorTag = new DicomTag(group, block);
            var existing = GetString(creatorTag);
            if (existing is not null && existing.Trim() == creator)
                return new DicomTag(group, (ushort)((block << 8) | elementByte));
            if (existing is null && reserve)
            {
                Add(creatorTag, DicomVR.LO, creator);
                return new DicomTag(group, (ushort)((block << 8) | elementByte));
            }
        }
        throw new InvalidOperationException($"no free private block in group {group:X4}");
    }

    /// <summary>Dictionary entry for a tag here, private ones resolved through this data set's creators.</summary>
    public DicomDictionaryEntry? FindEntry(DicomTag tag)
    {
        if (!tag.IsPrivate) return DicomDictionary.Find(tag);
        if (tag.IsPrivateCreator) return null;
        var creator = GetPrivateCreator(tag);
        return creator is null ? null : DicomDictionary.FindPrivate(creator, tag);
    }
}
