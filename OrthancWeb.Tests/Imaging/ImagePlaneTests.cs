using OrthancWeb.Dicom.Imaging;

namespace OrthancWeb.Tests.Imaging;

/// <summary>Image geometry from Image Position/Orientation (Patient) and Pixel Spacing (PS3.3 C.7.6.2.1.1, 10.7.1.3).</summary>
public sealed class ImagePlaneTests
{
    /// <summary>A 512 x 512 axial slice at height z, 0.5 mm pixels, centred on the patient's axis.</summary>
    private static ImagePlane Axial(double z) => ImagePlane.FromTags($@"-127.75\-127.75\{z}", @"1\0\0\0\1\0", @"0.5\0.5", 512, 512)!;

    /// <summary>A 512 x 512 sagittal slice at x, seen from the patient's left, head at the top, covering z from 128 down to -128.</summary>
    private static ImagePlane Sagittal(double x) => ImagePlane.FromTags($@"{x}\-127.75\127.75", @"0\1\0\0\0\-1", @"0.5\0.5", 512, 512)!;

    [Fact]
    public void Image_coordinates_map_to_the_patient_and_back()
    {
        var plane = Axial(30);
        // The first pixel's centre is Image Position (Patient).
        Assert.Equal(new PatientVector(-127.75, -127.75, 30), plane.ToPatient(0.5, 0.5));
        // Half-way across: the patient's axis.
        Assert.Equal(new PatientVector(0, 0, 30), plane.ToPatient(256, 256));
        var (x, y) = plane.ToImage(new PatientVector(10, -20, 30));
        Assert.Equal((276, 216), (x, y));
        Assert.Equal(30, Axial(0).DistanceTo(plane.Origin), 9);
    }

    [Fact]
    public void Lengths_and_angles_honour_pixels_that_are_not_square()
    {
        // Rows 2 mm apart, columns 1 mm apart: 10 pixels across is 10 mm, 10 pixels down is 20 mm.
        var plane = ImagePlane.FromTags(@"0\0\0", @"1\0\0\0\1\0", @"2\1", 100, 100)!;
        Assert.Equal(10, plane.Distance(10, 10, 20, 10), 9);
        Assert.Equal(20, plane.Distance(10, 10, 10, 20), 9);
        Assert.Equal(Math.Sqrt(500), plane.Distance(10, 10, 20, 20), 9);
        // A right angle on screen stays one; a 45-degree diagonal in pixels is atan(20/10) in the patient.
        Assert.Equal(90, plane.Angle(20, 10, 10, 10, 10, 20), 9);
        Assert.Equal(Math.Atan2(20, 10) * 180 / Math.PI, plane.Angle(20, 10, 10, 10, 20, 20), 9);
    }

    [Fact]
    public void A_sagittal_slice_crosses_an_axial_one_on_a_vertical_line()
    {
        // The mid-sagittal plane (x = 0) cuts the axial slice at z = 0 down its middle column, edge to edge.
        var line = Axial(0).ReferenceLineOf(Sagittal(0));
        Assert.NotNull(line);
        var (x1, y1, x2, y2) = line.Value;
        Assert.Equal(256, x1, 6);
        Assert.Equal(256, x2, 6);
        Assert.Equal((0.0, 512.0), (Math.Min(y1, y2), Math.Max(y1, y2)), new ToleranceComparer(1e-6));
        // And the axial slice at z = 64 cuts the sagittal one on a horizontal line a quarter of the way down.
        var (_, sy1, _, sy2) = Sagittal(0).ReferenceLineOf(Axial(64))!.Value;
        Assert.Equal(128, sy1, 6);
        Assert.Equal(128, sy2, 6);
    }

    [Fact]
    public void Parallel_slices_or_slices_that_do_not_reach_the_plane_have_no_reference_line()
    {
        Assert.Null(Axial(0).ReferenceLineOf(Axial(5)));
        Assert.True(Axial(0).IsParallelTo(Axial(5)));
        // A short sagittal slice covering z from 128 to 118 never reaches the axial plane at z = 0.
        var shortSagittal = ImagePlane.FromTags(@"0\-127.75\127.75", @"0\1\0\0\0\-1", @"0.5\0.5", 20, 512)!;
        Assert.Null(Axial(0).ReferenceLineOf(shortSagittal));
    }

    [Fact]
    public void A_slice_whose_edge_lies_in_the_plane_has_that_edge_as_its_line()
    {
        // A sagittal slice whose top edge (outer edge of its first row, z = 128) lies in the axial plane z = 128.
        var sagittal = ImagePlane.FromTags(@"0\-127.75\127.75", @"0\1\0\0\0\-1", @"0.5\0.5", 512, 512)!;
        var axial = ImagePlane.FromTags(@"-127.75\-127.75\128", @"1\0\0\0\1\0", @"0.5\0.5", 512, 512)!;
        var (x1, y1, x2, y2) = axial.ReferenceLineOf(sagittal)!.Value;
        Assert.Equal((256, 256), (x1, x2));
        Assert.Equal((0.0, 512.0), (Math.Min(y1, y2), Math.Max(y1, y2)));
    }

    [Theory]
    [InlineData(null, @"1\0\0\0\1\0", @"0.5\0.5")]
    [InlineData(@"0\0\0", @"1\0\0\0\1", @"0.5\0.5")]
    [InlineData(@"0\0\0", @"1\0\0\1\0\0", @"0.5\0.5")] // row and column directions not perpendicular
    [InlineData(@"0\0\0", @"2\0\0\0\1\0", @"0.5\0.5")] // not a unit vector
    [InlineData(@"0\0\0", @"1\0\0\0\1\0", @"0\0.5")]
    [InlineData(@"0\0\x", @"1\0\0\0\1\0", @"0.5\0.5")]
    public void Incomplete_or_malformed_geometry_gives_no_plane(string? position, string orientation, string spacing) =>
        Assert.Null(ImagePlane.FromTags(position, orientation, spacing, 512, 512));

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<(double, double)>
    {
        public bool Equals((double, double) a, (double, double) b) => Math.Abs(a.Item1 - b.Item1) <= tolerance && Math.Abs(a.Item2 - b.Item2) <= tolerance;
        public int GetHashCode((double, double) obj) => 0;
    }
}
