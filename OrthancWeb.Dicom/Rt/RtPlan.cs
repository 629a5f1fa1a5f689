using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Dicom.Rt;

/// <summary>An item of the Dose Reference Sequence (PS3.3 C.8.8.10): a prescription point or volume and its doses, in Gy.</summary>
public sealed record RtDoseReference(int Number, string? Description, string? StructureType, string? Type,
    double? TargetPrescriptionDose, double? DeliveryMaximumDose, double? OrganAtRiskMaximumDose);

/// <summary>A beam of a fraction group (Referenced Beam Sequence): its dose and meterset (MU, for a Primary Dosimeter Unit of MU) per fraction.</summary>
public sealed record RtReferencedBeam(int BeamNumber, double? BeamDose, double? BeamMeterset);

/// <summary>An item of the Fraction Group Sequence (PS3.3 C.8.8.13).</summary>
public sealed record RtFractionGroup(int Number, int? FractionsPlanned, int? NumberOfBeams, IReadOnlyList<RtReferencedBeam> Beams);

/// <summary>
/// An item of the Beam Sequence (PS3.3 C.8.8.14): what the machine does. Energies and gantry angles are the
/// distinct values of its Control Point Sequence in order; a control point repeats them only when they change (C.8.8.14.5).
/// </summary>
public sealed record RtBeam(int Number, string? Name, string? Type, string? RadiationType, string? MachineName, string? PrimaryDosimeterUnit,
    int ControlPoints, IReadOnlyList<double> NominalEnergies, IReadOnlyList<double> GantryAngles);

/// <summary>
/// An RT Plan (PS3.3 A.20) for a summary: RT General Plan (C.8.8.9), Prescription (C.8.8.10), Fraction Scheme
/// (C.8.8.13) and RT Beams (C.8.8.14); brachytherapy and ion beams are counted, not detailed.
/// </summary>
public sealed record RtPlan(string Label, string? Name, string? Description, DateOnly? Date, TimeOnly? Time, string? Geometry,
    IReadOnlyList<RtDoseReference> DoseReferences, IReadOnlyList<RtFractionGroup> FractionGroups, IReadOnlyList<RtBeam> Beams)
{
    public const string SopClassUid = "1.2.840.10008.5.1.4.1.1.481.5";

    /// <summary>The beam's meterset per fraction from the first fraction group that lists it.</summary>
    public double? MetersetOf(int beamNumber) =>
        FractionGroups.SelectMany(g => g.Beams).FirstOrDefault(b => b.BeamNumber == beamNumber)?.BeamMeterset;

    /// <exception cref="RtObjectException">More than <see cref="RtLimits.MaximumPlanItems"/> beams, references or groups.</exception>
    public static RtPlan Read(DicomDataset ds)
    {
        var doseReferences = Bounded(ds, DicomTags.DoseReferenceSequence, "dose references")
            .Select(i => new RtDoseReference(RtValues.Integer(i, DicomTags.DoseReferenceNumber) ?? 0, RtValues.Text(i, DicomTags.DoseReferenceDescription),
                RtValues.Text(i, DicomTags.DoseReferenceStructureType), RtValues.Text(i, DicomTags.DoseReferenceType),
                RtValues.Decimal(i, DicomTags.TargetPrescriptionDose), RtValues.Decimal(i, DicomTags.DeliveryMaximumDose),
                RtValues.Decimal(i, DicomTags.OrganAtRiskMaximumDose))).ToList();
        var groups = Bounded(ds, DicomTags.FractionGroupSequence, "fraction groups")
            .Select(g => new RtFractionGroup(RtValues.Integer(g, DicomTags.FractionGroupNumber) ?? 0, RtValues.Integer(g, DicomTags.NumberOfFractionsPlanned),
                RtValues.Integer(g, DicomTags.NumberOfBeams),
                [.. Bounded(g, DicomTags.ReferencedBeamSequence, "referenced beams")
                    .Where(b => RtValues.Integer(b, DicomTags.ReferencedBeamNumber) is not null)
                    .Select(b => new RtReferencedBeam(RtValues.Integer(b, DicomTags.ReferencedBeamNumber)!.Value,
                        RtValues.Decimal(b, DicomTags.BeamDose), RtValues.Decimal(b, DicomTags.BeamMeterset)))])).ToList();
        var beams = Bounded(ds, DicomTags.BeamSequence, "beams").Select(Beam).ToList();
        return new RtPlan(RtValues.Text(ds, DicomTags.RTPlanLabel) ?? "", RtValues.Text(ds, DicomTags.RTPlanName), RtValues.Text(ds, DicomTags.RTPlanDescription),
            ds.GetDate(DicomTags.RTPlanDate), ds.GetTime(DicomTags.RTPlanTime), RtValues.Text(ds, DicomTags.RTPlanGeometry), doseReferences, groups, beams);
    }

    private static RtBeam Beam(DicomDataset beam)
    {
        var points = RtValues.Items(beam, DicomTags.ControlPointSequence);
        var energies = new List<double>();
        var angles = new List<double>();
        foreach (var point in points.Take(RtLimits.MaximumControlPoints))
        {
            if (RtValues.Decimal(point, DicomTags.NominalBeamEnergy) is { } energy && !energies.Contains(energy)) energies.Add(energy);
            if (RtValues.Decimal(point, DicomTags.GantryAngle) is { } angle && (angles.Count == 0 || angles[^1] != angle)) angles.Add(angle);
        }
        return new RtBeam(RtValues.Integer(beam, DicomTags.BeamNumber) ?? 0, RtValues.Text(beam, DicomTags.BeamName), RtValues.Text(beam, DicomTags.BeamType),
            RtValues.Text(beam, DicomTags.RadiationType), RtValues.Text(beam, DicomTags.TreatmentMachineName), RtValues.Text(beam, DicomTags.PrimaryDosimeterUnit),
            RtValues.Integer(beam, DicomTags.NumberOfControlPoints) ?? points.Count, energies, angles);
    }

    private static IReadOnlyList<DicomDataset> Bounded(DicomDataset ds, DicomTag tag, string what)
    {
        var items = RtValues.Items(ds, tag);
        return items.Count <= RtLimits.MaximumPlanItems ? items
            : throw new RtObjectException($"the plan has {items.Count} {what}, more than the {RtLimits.MaximumPlanItems} we read");
    }
}
