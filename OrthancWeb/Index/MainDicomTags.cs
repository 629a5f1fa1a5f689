using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Index;

/// <summary>The tags kept in the index for each level: Orthanc 1.x's default "main DICOM tags".</summary>
public static class MainDicomTags
{
    public static readonly DicomTag[] Patient =
    [
        DicomTags.PatientName, DicomTags.PatientID, DicomTags.PatientBirthDate, DicomTags.PatientSex, DicomTags.OtherPatientIDs,
    ];

    public static readonly DicomTag[] Study =
    [
        DicomTags.StudyDate, DicomTags.StudyTime, DicomTags.StudyID, DicomTags.StudyDescription, DicomTags.AccessionNumber,
        DicomTags.StudyInstanceUID, DicomTags.RequestedProcedureDescription, DicomTags.InstitutionName,
        DicomTags.RequestingPhysician, DicomTags.ReferringPhysicianName,
    ];

    public static readonly DicomTag[] Series =
    [
        DicomTags.SeriesDate, DicomTags.SeriesTime, DicomTags.Modality, DicomTags.Manufacturer, DicomTags.StationName,
        DicomTags.SeriesDescription, DicomTags.BodyPartExamined, DicomTags.SequenceName, DicomTags.ProtocolName,
        DicomTags.SeriesNumber, DicomTags.CardiacNumberOfImages, DicomTags.ImagesInAcquisition,
        DicomTags.NumberOfTemporalPositions, DicomTags.NumberOfSlices, DicomTags.NumberOfTimeSlices,
        DicomTags.SeriesInstanceUID, DicomTags.ImageOrientationPatient, DicomTags.SeriesType, DicomTags.OperatorsName,
        DicomTags.PerformedProcedureStepDescription, DicomTags.AcquisitionDeviceProcessingDescription,
        DicomTags.ContrastBolusAgent,
    ];

    public static readonly DicomTag[] Instance =
    [
        DicomTags.InstanceCreationDate, DicomTags.InstanceCreationTime, DicomTags.AcquisitionNumber, DicomTags.ImageIndex,
        DicomTags.InstanceNumber, DicomTags.NumberOfFrames, DicomTags.TemporalPositionIdentifier, DicomTags.SOPInstanceUID,
        DicomTags.ImagePositionPatient, DicomTags.ImageComments, DicomTags.ImageOrientationPatient,
    ];

    public static DicomTag[] For(ResourceLevel level) => level switch
    {
        ResourceLevel.Patient => Patient,
        ResourceLevel.Study => Study,
        ResourceLevel.Series => Series,
        _ => Instance,
    };

    /// <summary>The level whose main tags hold this tag, searching from the patient down (null if none does).</summary>
    public static ResourceLevel? LevelOf(DicomTag tag)
    {
        foreach (var level in new[] { ResourceLevel.Patient, ResourceLevel.Study, ResourceLevel.Series, ResourceLevel.Instance })
            if (Array.IndexOf(For(level), tag) >= 0) return level;
        return null;
    }
}
