using System.Buffers.Binary;
using System.Text;

namespace OrthancWeb.Dicom.Network.Pdu;

/// <summary>PDU types of the DICOM upper layer (PS3.8 §9.3).</summary>
public enum PduType : byte
{
    AssociateRequest = 0x01,
    AssociateAccept = 0x02,
    AssociateReject = 0x03,
    PData = 0x04,
    ReleaseRequest = 0x05,
    ReleaseResponse = 0x06,
    Abort = 0x07,
}

/// <summary>Result of one presentation context in an A-ASSOCIATE-AC (PS3.8 Table 9-18).</summary>
public enum PresentationContextResult : byte
{
    Acceptance = 0,
    UserRejection = 1,
    NoReason = 2,
    AbstractSyntaxNotSupported = 3,
    TransferSyntaxesNotSupported = 4,
}

/// <summary>A presentation context as proposed (abstract syntax, transfer syntaxes) and as answered (result, one syntax).</summary>
public sealed class PresentationContext(byte id, string abstractSyntax, IReadOnlyList<string> transferSyntaxes)
{
    public byte Id { get; } = id;
    public string AbstractSyntax { get; } = abstractSyntax;
    /// <summary>Proposed syntaxes, in the proposer's order of preference.</summary>
    public IReadOnlyList<string> TransferSyntaxes { get; } = transferSyntaxes;
    public PresentationContextResult Result { get; set; } = PresentationContextResult.NoReason;
    /// <summary>The one syntax accepted, when <see cref="Result"/> is acceptance.</summary>
    public string? AcceptedTransferSyntax { get; set; }
    public bool IsAccepted => Result == PresentationContextResult.Acceptance && AcceptedTransferSyntax is not null;

    public override string ToString() => $"#{Id} {AbstractSyntax} {Result} {AcceptedTransferSyntax}";
}

/// <summary>SCP/SCU Role Selection sub-item (PS3.7 §D.3.3.4), needed for C-GET where the SCU receives C-STOREs.</summary>
public sealed record RoleSelection(string SopClassUid, bool ScuRole, bool ScpRole);

/// <summary>User Identity Negotiation sub-item (PS3.7 §D.3.3.7).</summary>
public sealed record UserIdentity(byte Type, bool PositiveResponseRequested, byte[] PrimaryField, byte[] SecondaryField)
{
    /// <summary>1 = username, 2 = username and passcode, 3 = Kerberos, 4 = SAML, 5 = JWT.</summary>
    public string Username => Encoding.UTF8.GetString(PrimaryField);
    public string Passcode => Encoding.UTF8.GetString(SecondaryField);
}

/// <summary>The content of an A-ASSOCIATE-RQ or -AC.</summary>
public sealed class AssociationParameters
{
    public const string DicomApplicationContext = "1.2.840.10008.3.1.1.1";

    public string CalledAE { get; set; } = "ANY-SCP";
    public string CallingAE { get; set; } = "ANY-SCU";
    public string ApplicationContext { get; set; } = DicomApplicationContext;
    public List<PresentationContext> PresentationContexts { get; } = [];
    /// <summary>Largest P-DATA-TF PDU the sender of these parameters accepts; 0 means unlimited (PS3.8 §D.1).</summary>
    public uint MaxPduLength { get; set; } = 262144;
    public string ImplementationClassUid { get; set; } = Data.DicomUids.ImplementationClassUid;
    public string? ImplementationVersionName { get; set; } = Data.DicomUids.ImplementationVersionName;
    /// <summary>Asynchronous Operations Window (invoked, performed); we answer 1/1, i.e. not supported.</summary>
    public (ushort Invoked, ushort Performed)? AsyncOperations { get; set; }
    public List<RoleSelection> RoleSelections { get; } = [];
    public UserIdentity? UserIdentity { get; set; }
    /// <summary>Server response to a user identity request (A-ASSOCIATE-AC only).</summary>
    public byte[]? UserIdentityServerResponse { get; set; }
    /// <summary>Where an A-ASSOCIATE-RQ came from (set by the SCP, not on the wire): the policy checks it against the AE.</summary>
    public System.Net.IPEndPoint? RemoteEndPoint { get; set; }
}

/// <summary>A-ASSOCIATE-RJ fields (PS3.8 Table 9-21).</summary>
public sealed record AssociateReject(byte Result, byte Source, byte Reason)
{
    /// <summary>Result 1 permanent, 2 transient; source 1 = service user; reasons of PS3.8 Table 9-21.</summary>
    public static AssociateReject CalledAENotRecognized => new(1, 1, 7);
    public static AssociateReject CallingAENotRecognized => new(1, 1, 3);
    public static AssociateReject NoReasonGiven => new(1, 1, 1);
    public static AssociateReject ApplicationContextNotSupported => new(1, 1, 2);
    /// <summary>Transient, service provider (presentation): local limit exceeded.</summary>
    public static AssociateReject TooManyAssociations => new(2, 3, 2);

    /// <summary>The three fields in words, as PS3.8 Table 9-21 names them.</summary>
    public string Describe()
    {
        var result = Result switch { 1 => "permanent", 2 => "transient", _ => $"result {Result}" };
        var source = Source switch
        {
            1 => "service user",
            2 => "service provider (ACSE)",
            3 => "service provider (presentation)",
            _ => $"source {Source}",
        };
        var reason = (Source, Reason) switch
        {
            (1 or 2, 1) => "no reason given",
            (1, 2) => "application context name not supported",
            (1, 3) => "calling AE title not recognized",
            (1, 7) => "called AE title not recognized",
            (2, 2) => "protocol version not supported",
            (3, 1) => "temporary congestion",
            (3, 2) => "local limit exceeded",
            _ => $"reason {Reason}",
        };
        return $"{reason} ({result}, {source})";
    }
}

/// <summary>One presentation data value inside a P-DATA-TF PDU (PS3.8 §9.3.5.1, Annex E).</summary>
public readonly record struct PresentationDataValue(byte ContextId, bool IsCommand, bool IsLast, ReadOnlyMemory<byte> Data);

/// <summary>A PDU that does not follow PS3.8 (a protocol error); the association is aborted.</summary>
public sealed class PduException(string message) : DicomNetworkException(message);

/// <summary>Encoding and decoding of PDU bodies (PS3.8 §9.3). Lengths are big endian in the upper layer.</summary>
public static class PduCodec
{
    private const byte ItemApplicationContext = 0x10;
    private const byte ItemPresentationContextRq = 0x20;
    private const byte ItemPresentationContextAc = 0x21;
    private const byte ItemAbstractSyntax = 0x30;
    private const byte ItemTransferSyntax = 0x40;
    private const byte ItemUserInformation = 0x50;
    private const byte SubMaxLength = 0x51;
    private const byte SubImplementationClassUid = 0x52;
    private const byte SubAsyncOperations = 0x53;
    private const byte SubRoleSelection = 0x54;
    private const byte SubImplementationVersion = 0x55;
    private const byte SubUserIdentityRq = 0x58;
    private const byte SubUserIdentityAc = 0x59;

    public static byte[] EncodeAssociate(AssociationParameters p, bool accept)
    {
        var body = new List<byte>(512);
        body.AddRange([0x00, 0x01, 0x00, 0x00]); // protocol version 1, reserved
        body.AddRange(AeTitle(p.CalledAE));
        body.AddRange(AeTitle(p.CallingAE));
        body.AddRange(new byte[32]);
        Item(body, ItemApplicationContext, Encoding.ASCII.GetBytes(p.ApplicationContext));
        foreach (var pc in p.PresentationContexts)
        {
            var content = new List<byte> { pc.Id, 0, accept ? (byte)pc.Result : (byte)0, 0 };
            if (accept)
            {
                Item(content, ItemTransferSyntax, Encoding.ASCII.GetBytes(pc.AcceptedTransferSyntax ?? (pc.TransferSyntaxes is [var proposed, ..] ? proposed : "1.2.840.10008.1.2")));
            }
            else
            {
                Item(content, ItemAbstractSyntax, Encoding.ASCII.GetBytes(pc.AbstractSyntax));
                foreach (var ts in pc.TransferSyntaxes) Item(content, ItemTransferSyntax, Encoding.ASCII.GetBytes(ts));
            }
            Item(body, accept ? ItemPresentationContextAc : ItemPresentationContextRq, content.ToArray());
        }
        var user = new List<byte>();
        var max = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(max, p.MaxPduLength);
        Item(user, SubMaxLength, max);
        Item(user, SubImplementationClassUid, Encoding.ASCII.GetBytes(p.ImplementationClassUid));
        if (p.AsyncOperations is { } ops)
        {
            var a = new byte[4];
            BinaryPrimitives.WriteUInt16BigEndian(a, ops.Invoked);
            BinaryPrimitives.WriteUInt16BigEndian(a.AsSpan(2), ops.Performed);
            Item(user, SubAsyncOperations, a);
        }
        foreach (var role in p.RoleSelections)
        {
            var uid = Encoding.ASCII.GetBytes(role.SopClassUid);
            var r = new List<byte> { (byte)(uid.Length >> 8), (byte)uid.Length };
            r.AddRange(uid);
            r.Add(role.ScuRole ? (byte)1 : (byte)0);
            r.Add(role.ScpRole ? (byte)1 : (byte)0);
            Item(user, SubRoleSelection, r.ToArray());
        }
        if (p.ImplementationVersionName is { Length: > 0 } v) Item(user, SubImplementationVersion, Encoding.ASCII.GetBytes(v));
        if (!accept && p.UserIdentity is { } id)
        {
            var u = new List<byte> { id.Type, id.PositiveResponseRequested ? (byte)1 : (byte)0 };
            u.AddRange([(byte)(id.PrimaryField.Length >> 8), (byte)id.PrimaryField.Length]);
            u.AddRange(id.PrimaryField);
            u.AddRange([(byte)(id.SecondaryField.Length >> 8), (byte)id.SecondaryField.Length]);
            u.AddRange(id.SecondaryField);
            Item(user, SubUserIdentityRq, u.ToArray());
        }
        if (accept && p.UserIdentityServerResponse is { } response)
        {
            var u = new List<byte> { (byte)(response.Length >> 8), (byte)response.Length };
            u.AddRange(response);
            Item(user, SubUserIdentityAc, u.ToArray());
        }
        Item(body, ItemUserInformation, user.ToArray());
        return Frame(accept ? PduType.AssociateAccept : PduType.AssociateRequest, body.ToArray());
    }

    public static AssociationParameters DecodeAssociate(ReadOnlySpan<byte> body, bool accept)
    {
        if (body.Length < 68) throw new PduException("A-ASSOCIATE PDU shorter than its fixed fields");
        var p = new AssociationParameters
        {
            CalledAE = Encoding.ASCII.GetString(body.Slice(4, 16)).Trim(),
            CallingAE = Encoding.ASCII.GetString(body.Slice(20, 16)).Trim(),
        };
        var pos = 68;
        while (pos < body.Length)
        {
            var type = ReadItem(body, ref pos, out var item);
            switch (type)
            {
                case ItemApplicationContext:
                    p.ApplicationContext = Encoding.ASCII.GetString(item).TrimEnd('\0', ' ');
                    break;
                case ItemPresentationContextRq or ItemPresentationContextAc:
                    if (item.Length < 4) throw new PduException("presentation context item too short");
                    var id = item[0];
                    var result = item[2];
                    string? abstractSyntax = null;
                    var syntaxes = new List<string>();
                    var sub = 4;
                    while (sub < item.Length)
                    {
                        var t = ReadItem(item, ref sub, out var v);
                        var uid = Encoding.ASCII.GetString(v).TrimEnd('\0', ' ');
                        if (t == ItemAbstractSyntax) abstractSyntax = uid;
                        else if (t == ItemTransferSyntax) syntaxes.Add(uid);
                    }
                    var pc = new PresentationContext(id, abstractSyntax ?? "", syntaxes);
                    if (accept)
                    {
                        pc.Result = (PresentationContextResult)result;
                        pc.AcceptedTransferSyntax = syntaxes.FirstOrDefault();
                    }
                    p.PresentationContexts.Add(pc);
                    break;
                case ItemUserInformation:
                    DecodeUserInformation(item, p);
                    break;
                default:
                    break; // unknown items are ignored (PS3.8 §9.3.1)
            }
        }
        return p;
    }

    private static void DecodeUserInformation(ReadOnlySpan<byte> item, AssociationParameters p)
    {
        var pos = 0;
        while (pos < item.Length)
        {
            var type = ReadItem(item, ref pos, out var v);
            switch (type)
            {
                case SubMaxLength when v.Length >= 4:
                    p.MaxPduLength = BinaryPrimitives.ReadUInt32BigEndian(v);
                    break;
                case SubImplementationClassUid:
                    p.ImplementationClassUid = Encoding.ASCII.GetString(v).TrimEnd('\0', ' ');
                    break;
                case SubImplementationVersion:
                    p.ImplementationVersionName = Encoding.ASCII.GetString(v).TrimEnd('\0', ' ');
                    break;
                case SubAsyncOperations when v.Length >= 4:
                    p.AsyncOperations = (BinaryPrimitives.ReadUInt16BigEndian(v), BinaryPrimitives.ReadUInt16BigEndian(v[2..]));
                    break;
                case SubRoleSelection when v.Length >= 4:
                    var len = BinaryPrimitives.ReadUInt16BigEndian(v);
                    if (2 + len + 2 > v.Length) throw new PduException("role selection sub-item too short");
                    p.RoleSelections.Add(new RoleSelection(Encoding.ASCII.GetString(v.Slice(2, len)).TrimEnd('\0', ' '), v[2 + len] == 1, v[3 + len] == 1));
                    break;
                case SubUserIdentityRq when v.Length >= 6:
                    var primaryLength = BinaryPrimitives.ReadUInt16BigEndian(v[2..]);
                    if (4 + primaryLength + 2 > v.Length) throw new PduException("user identity sub-item too short");
                    var secondaryLength = BinaryPrimitives.ReadUInt16BigEndian(v[(4 + primaryLength)..]);
                    if (6 + primaryLength + secondaryLength > v.Length) throw new PduException("user identity sub-item too short");
                    p.UserIdentity = new UserIdentity(v[0], v[1] == 1, v.Slice(4, primaryLength).ToArray(), v.Slice(6 + primaryLength, secondaryLength).ToArray());
                    break;
                case SubUserIdentityAc when v.Length >= 2:
                    var rl = BinaryPrimitives.ReadUInt16BigEndian(v);
                    p.UserIdentityServerResponse = v.Slice(2, Math.Min(rl, v.Length - 2)).ToArray();
                    break;
            }
        }
    }

    private static byte ReadItem(ReadOnlySpan<byte> data, ref int pos, out ReadOnlySpan<byte> value)
    {
        if (pos + 4 > data.Length) throw new PduException($"item header past the end at {pos}");
        var type = data[pos];
        var len = BinaryPrimitives.ReadUInt16BigEndian(data[(pos + 2)..]);
        var start = pos + 4;
        if (start + len > data.Length) throw new PduException($"item 0x{type:X2} of {len} bytes runs past its PDU");
        pos = start + len;
        value = data.Slice(start, len);
        return type;
    }

    private static void Item(List<byte> into, byte type, byte[] value)
    {
        into.Add(type);
        into.Add(0);
        into.Add((byte)(value.Length >> 8));
        into.Add((byte)value.Length);
        into.AddRange(value);
    }

    private static byte[] AeTitle(string ae)
    {
        var bytes = Enumerable.Repeat((byte)' ', 16).ToArray();
        Encoding.ASCII.GetBytes(ae.Length > 16 ? ae[..16] : ae).CopyTo(bytes, 0);
        return bytes;
    }

    public static byte[] Frame(PduType type, ReadOnlySpan<byte> body)
    {
        var pdu = new byte[6 + body.Length];
        pdu[0] = (byte)type;
        BinaryPrimitives.WriteUInt32BigEndian(pdu.AsSpan(2), (uint)body.Length);
        body.CopyTo(pdu.AsSpan(6));
        return pdu;
    }

    public static byte[] EncodeReject(AssociateReject r) => Frame(PduType.AssociateReject, [0, r.Result, r.Source, r.Reason]);

    public static AssociateReject DecodeReject(ReadOnlySpan<byte> body) =>
        body.Length >= 4 ? new AssociateReject(body[1], body[2], body[3]) : throw new PduException("A-ASSOCIATE-RJ too short");

    public static byte[] EncodeAbort(byte source = 0, byte reason = 0) => Frame(PduType.Abort, [0, 0, source, reason]);

    public static byte[] ReleaseRequest() => Frame(PduType.ReleaseRequest, [0, 0, 0, 0]);

    public static byte[] ReleaseResponse() => Frame(PduType.ReleaseResponse, [0, 0, 0, 0]);

    /// <summary>The PDVs of a P-DATA-TF body: item length (4), context ID (1), message control header (1), fragment.</summary>
    public static List<PresentationDataValue> DecodePData(ReadOnlyMemory<byte> body)
    {
        var list = new List<PresentationDataValue>(2);
        var span = body.Span;
        var pos = 0;
        while (pos < span.Length)
        {
            if (pos + 6 > span.Length) throw new PduException("PDV header past the end of the P-DATA-TF");
            var len = BinaryPrimitives.ReadUInt32BigEndian(span[pos..]);
            if (len < 2 || pos + 4 + len > span.Length) throw new PduException($"PDV of {len} bytes does not fit its P-DATA-TF");
            var control = span[pos + 5];
            list.Add(new PresentationDataValue(span[pos + 4], (control & 1) == 1, (control & 2) == 2, body.Slice(pos + 6, (int)len - 2)));
            pos += 4 + (int)len;
        }
        return list;
    }
}
