using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Index;

/// <summary>
/// The attributes of the information-model module that belongs to each level, as GET /{level}/{id}/module answers
/// them (Orthanc's route): wider than <see cref="MainDicomTags"/>, which is what the index keeps. Each list is the
/// module's table in PS3.3, as the edition of about 2011 lists it, because that is the set Debian's orthanc 1.10.1
/// answers with (read from the binary with a file holding every attribute of the dictionary): attributes the standard
/// added to these modules later (Type of Patient ID, Consulting Physician's Name, Digital Signatures Sequence...) are
/// not listed by orthanc, so not here either, and scripts see the same keys from both servers.
/// </summary>
public static class LevelModules
{
    /// <summary>Patient Module, PS3.3 C.7.1.1 (Table C.7-1).</summary>
    public static readonly IReadOnlySet<DicomTag> Patient = new HashSet<DicomTag>
    {
        DicomTags.ReferencedPatientSequence, DicomTags.PatientName, DicomTags.PatientID, DicomTags.IssuerOfPatientID,
        DicomTags.IssuerOfPatientIDQualifiersSequence, DicomTags.PatientBirthDate, DicomTags.PatientBirthTime, DicomTags.PatientSex,
        DicomTags.OtherPatientIDs, DicomTags.OtherPatientNames, DicomTags.OtherPatientIDsSequence, DicomTags.EthnicGroup,
        DicomTags.PatientSpeciesDescription, DicomTags.PatientSpeciesCodeSequence, DicomTags.PatientBreedDescription,
        DicomTags.PatientBreedCodeSequence, DicomTags.BreedRegistrationSequence, DicomTags.ResponsiblePerson,
        DicomTags.ResponsiblePersonRole, DicomTags.ResponsibleOrganization, DicomTags.PatientComments,
        // De-identification (PS3.15 E.1.1): part of the Patient Module's table.
        DicomTags.PatientIdentityRemoved, DicomTags.DeidentificationMethod, DicomTags.DeidentificationMethodCodeSequence,
    };

    /// <summary>General Study Module, PS3.3 C.7.2.1 (Table C.7-3); the Patient Study Module (C.7.2.2) is not part of it.</summary>
    public static readonly IReadOnlySet<DicomTag> Study = new HashSet<DicomTag>
    {
        DicomTags.StudyInstanceUID, DicomTags.StudyDate, DicomTags.StudyTime, DicomTags.ReferringPhysicianName,
        DicomTags.ReferringPhysicianIdentificationSequence, DicomTags.StudyID, DicomTags.AccessionNumber,
        DicomTags.IssuerOfAccessionNumberSequence, DicomTags.StudyDescription, DicomTags.PhysiciansOfRecord,
        DicomTags.PhysiciansOfRecordIdentificationSequence, DicomTags.NameOfPhysiciansReadingStudy,
        DicomTags.PhysiciansReadingStudyIdentificationSequence, DicomTags.RequestingServiceCodeSequence,
        DicomTags.ReferencedStudySequence, DicomTags.ProcedureCodeSequence, DicomTags.ReasonForPerformedProcedureCodeSequence,
    };

    /// <summary>
    /// General Series Module, PS3.3 C.7.3.1 (Table C.7-5a). Largest Pixel Value in Series belongs to it too, but
    /// orthanc 1.10.1 does not answer it (Smallest only): left out to answer the same keys.
    /// </summary>
    public static readonly IReadOnlySet<DicomTag> Series = new HashSet<DicomTag>
    {
        DicomTags.Modality, DicomTags.SeriesInstanceUID, DicomTags.SeriesNumber, DicomTags.Laterality, DicomTags.SeriesDate,
        DicomTags.SeriesTime, DicomTags.PerformingPhysicianName, DicomTags.PerformingPhysicianIdentificationSequence,
        DicomTags.ProtocolName, DicomTags.SeriesDescription, DicomTags.SeriesDescriptionCodeSequence, DicomTags.OperatorsName,
        DicomTags.OperatorIdentificationSequence, DicomTags.ReferencedPerformedProcedureStepSequence, DicomTags.RelatedSeriesSequence,
        DicomTags.BodyPartExamined, DicomTags.PatientPosition, DicomTags.SmallestPixelValueInSeries, DicomTags.RequestAttributesSequence,
        DicomTags.PerformedProcedureStepID, DicomTags.PerformedProcedureStepStartDate, DicomTags.PerformedProcedureStepStartTime,
        DicomTags.PerformedProcedureStepDescription, DicomTags.PerformedProtocolCodeSequence,
        DicomTags.CommentsOnThePerformedProcedureStep, DicomTags.AnatomicalOrientationType,
    };

    /// <summary>
    /// SOP Common Module, PS3.3 C.12.1 (Table C.12-1), with Instance Number (which every image module repeats). The
    /// Digital Signatures Sequence (FFFA,FFFA) of PS3.3 C.12.1.1.3 is not answered by orthanc 1.10.1: left out.
    /// </summary>
    public static readonly IReadOnlySet<DicomTag> Instance = new HashSet<DicomTag>
    {
        DicomTags.SOPClassUID, DicomTags.SOPInstanceUID, DicomTags.SpecificCharacterSet, DicomTags.InstanceCreationDate,
        DicomTags.InstanceCreationTime, DicomTags.InstanceCreatorUID, DicomTags.RelatedGeneralSOPClassUID,
        DicomTags.OriginalSpecializedSOPClassUID, DicomTags.CodingSchemeIdentificationSequence, DicomTags.TimezoneOffsetFromUTC,
        DicomTags.ContributingEquipmentSequence, DicomTags.InstanceNumber, DicomTags.SOPInstanceStatus,
        DicomTags.SOPAuthorizationDateTime, DicomTags.SOPAuthorizationComment, DicomTags.AuthorizationEquipmentCertificationNumber,
        DicomTags.MACParametersSequence, DicomTags.EncryptedAttributesSequence, DicomTags.OriginalAttributesSequence,
        DicomTags.HL7StructuredDocumentReferenceSequence, DicomTags.LongitudinalTemporalInformationModified,
    };

    public static IReadOnlySet<DicomTag> For(ResourceLevel level) => level switch
    {
        ResourceLevel.Patient => Patient,
        ResourceLevel.Study => Study,
        ResourceLevel.Series => Series,
        _ => Instance,
    };
}
