using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace OrthancWeb.Index;

/// <summary>
/// Orthanc's public identifiers: SHA-1 of the DICOM identifiers down to the level, joined by '|', written as five
/// dash-separated groups of 8 hex digits, so the same data gets the same IDs here as in Orthanc.
/// </summary>
public static class PublicIds
{
    public static string Patient(string patientId) => Hash(patientId);

    public static string Study(string patientId, string studyUid) => Hash($"{patientId}|{studyUid}");

    public static string Series(string patientId, string studyUid, string seriesUid) => Hash($"{patientId}|{studyUid}|{seriesUid}");

    public static string Instance(string patientId, string studyUid, string seriesUid, string sopUid) =>
        Hash($"{patientId}|{studyUid}|{seriesUid}|{sopUid}");

    [SuppressMessage("Security", "CA5350:Do Not Use Weak Cryptographic Algorithms",
        Justification = "Orthanc's public IDs are SHA-1 digests; another algorithm would give other IDs than Orthanc's. They name resources, they protect nothing.")]
    private static string Hash(string text)
    {
        Span<byte> digest = stackalloc byte[20];
        SHA1.HashData(Encoding.UTF8.GetBytes(text), digest);
        var hex = Convert.ToHexStringLower(digest);
        return string.Create(44, hex, static (span, h) =>
        {
            for (int g = 0, o = 0; g < 5; g++)
            {
                if (g > 0) span[o++] = '-';
                h.AsSpan(g * 8, 8).CopyTo(span[o..]);
                o += 8;
            }
        });
    }
}

/// <summary>
/// The four DICOM identifiers that place an instance in the patient/study/series/instance hierarchy, with their
/// public IDs (Orthanc's DicomInstanceHasher), each hashed once.
/// </summary>
public sealed class InstanceIdentifiers(string patientId, string studyUid, string seriesUid, string sopUid)
{
    public string PatientId { get; } = patientId;
    public string StudyUid { get; } = studyUid;
    public string SeriesUid { get; } = seriesUid;
    public string SopUid { get; } = sopUid;

    public string PatientPublicId { get; } = PublicIds.Patient(patientId);
    public string StudyPublicId { get; } = PublicIds.Study(patientId, studyUid);
    public string SeriesPublicId { get; } = PublicIds.Series(patientId, studyUid, seriesUid);
    public string InstancePublicId { get; } = PublicIds.Instance(patientId, studyUid, seriesUid, sopUid);
}
