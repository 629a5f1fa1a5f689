using OrthancWeb.Dicom.Imaging;

namespace OrthancWeb.Tests.Imaging;

/// <summary>Region statistics in modality units: which pixels count, and the figures a reader compares with a workstation's.</summary>
public sealed class RegionStatisticsTests
{
    /// <summary>4 x 4 values 0..15, row by row.</summary>
    private static readonly double[] Ramp = Enumerable.Range(0, 16).Select(i => (double)i).ToArray();

    [Fact]
    public void A_rectangle_counts_the_pixels_whose_centres_it_holds()
    {
        // From (1,1) to (3,3): the pixels (1,1), (2,1), (1,2), (2,2), values 5, 6, 9 and 10.
        var s = RegionStatistics.Of(Ramp, 4, 4, RegionShape.Rectangle, 1, 1, 3, 3)!;
        Assert.Equal((4, 7.5, 5.0, 10.0), (s.Count, s.Mean, s.Minimum, s.Maximum));
        Assert.Equal(Math.Sqrt(4.25), s.StandardDeviation, 12);
        // Drawn from the other corner: the same region.
        Assert.Equal(s, RegionStatistics.Of(Ramp, 4, 4, RegionShape.Rectangle, 3, 3, 1, 1));
        // From 0.6 to 3.4 holds the centres 1.5 and 2.5 each way, not 0.5 or 3.5: the same four pixels.
        Assert.Equal(4, RegionStatistics.Of(Ramp, 4, 4, RegionShape.Rectangle, 0.6, 0.6, 3.4, 3.4)!.Count);
    }

    [Fact]
    public void A_region_of_a_wide_image_reads_its_rows_and_columns_the_right_way_round()
    {
        // 3 columns x 2 rows: 0 1 2 / 3 4 5. The first two columns of both rows are 0, 1, 3, 4.
        double[] wide = [0, 1, 2, 3, 4, 5];
        var s = RegionStatistics.Of(wide, 3, 2, RegionShape.Rectangle, 0, 0, 2, 2)!;
        Assert.Equal((4, 2.0, 0.0, 4.0), (s.Count, s.Mean, s.Minimum, s.Maximum));
        // The last column alone: 2 and 5.
        Assert.Equal((2, 3.5), (RegionStatistics.Of(wide, 3, 2, RegionShape.Rectangle, 2, 0, 3, 2)!.Count, RegionStatistics.Of(wide, 3, 2, RegionShape.Rectangle, 2, 0, 3, 2)!.Mean));
    }

    [Fact]
    public void An_ellipse_leaves_out_the_corners_of_its_box()
    {
        // Inscribed in the whole 4 x 4 image: the four corner pixels (0, 3, 12, 15) lie outside.
        var s = RegionStatistics.Of(Ramp, 4, 4, RegionShape.Ellipse, 0, 0, 4, 4)!;
        Assert.Equal(12, s.Count);
        Assert.Equal((120.0 - 30) / 12, s.Mean, 12);
        Assert.Equal((1.0, 14.0), (s.Minimum, s.Maximum));
    }

    [Fact]
    public void A_region_outside_the_image_or_too_small_for_a_pixel_has_no_statistics()
    {
        Assert.Null(RegionStatistics.Of(Ramp, 4, 4, RegionShape.Rectangle, 5, 5, 9, 9));
        Assert.Null(RegionStatistics.Of(Ramp, 4, 4, RegionShape.Ellipse, 1.1, 1.1, 1.2, 1.2));
        Assert.Throws<ArgumentException>(() => RegionStatistics.Of(Ramp, 5, 4, RegionShape.Rectangle, 0, 0, 1, 1));
    }

    [Fact]
    public void Large_values_keep_their_small_spread()
    {
        // 1e9 +/- 1: a sum-of-squares formula loses this spread in rounding; one pass with Welford's update does not.
        var values = Enumerable.Range(0, 10_000).Select(i => 1e9 + (i % 2 == 0 ? 1 : -1)).ToArray();
        var s = RegionStatistics.Of(values, 100, 100, RegionShape.Rectangle, 0, 0, 100, 100)!;
        Assert.Equal(1e9, s.Mean, 6);
        Assert.Equal(1, s.StandardDeviation, 9);
    }

    [Fact]
    public void Areas_are_in_square_millimetres()
    {
        Assert.Equal(25, RegionStatistics.Area(RegionShape.Rectangle, 10, -10, 0.5, 0.5), 12);
        Assert.Equal(25 * Math.PI / 4, RegionStatistics.Area(RegionShape.Ellipse, 10, 10, 0.5, 0.5), 12);
    }

    [Theory]
    [InlineData("CT", null, "HU")]
    [InlineData("CT", "US", "HU")]
    [InlineData("MR", null, "")]
    [InlineData("PT", "BQML", "BQML")]
    [InlineData("CT", " HU ", "HU")]
    public void The_unit_comes_from_Rescale_Type_or_the_modality(string modality, string? rescaleType, string unit) =>
        Assert.Equal(unit, RegionStatistics.Unit(modality, rescaleType));

    [Fact]
    public void Values_that_were_not_rescaled_have_no_unit() => Assert.Equal("", RegionStatistics.Unit("CT", null, rescaled: false));
}
