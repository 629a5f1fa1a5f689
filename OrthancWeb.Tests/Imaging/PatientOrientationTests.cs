using OrthancWeb.Dicom.Imaging;

namespace OrthancWeb.Tests.Imaging;

/// <summary>The orientation letters at the image edges, PS3.3 C.7.6.1.1.1 and C.7.6.2.1.1, for the planes a reader sees.</summary>
public sealed class PatientOrientationTests
{
    [Theory]
    // Axial, seen from the feet (the usual display): the patient's right on the screen's left, anterior at the top.
    [InlineData(@"1\0\0\0\1\0", "A", "P", "R", "L")]
    // Coronal, seen from the front: head at the top.
    [InlineData(@"1\0\0\0\0\-1", "H", "F", "R", "L")]
    // Sagittal, seen from the patient's left: anterior on the left.
    [InlineData(@"0\1\0\0\0\-1", "H", "F", "A", "P")]
    // Axial tilted by 30 degrees about x (a gantry tilt): the column direction takes a second letter.
    [InlineData(@"1\0\0\0\0.866025\-0.5", "AH", "PF", "R", "L")]
    // Tilted by 10 degrees only: one letter, as a reader would name the plane.
    [InlineData(@"1\0\0\0\0.984808\-0.173648", "A", "P", "R", "L")]
    // Values as some modalities write them, with spaces and exponents.
    [InlineData(@" 1.0 \ 0 \ 0 \ 0 \ 1e0 \ 0 ", "A", "P", "R", "L")]
    public void Edges_are_named_from_the_direction_cosines(string iop, string top, string bottom, string left, string right) =>
        Assert.Equal(new EdgeLetters(top, bottom, left, right), PatientOrientation.FromImageOrientation(iop));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(@"1\0\0\0\1")]
    [InlineData(@"1\0\0\0\1\x")]
    [InlineData(@"0\0\0\0\0\0")]
    [InlineData(@"NaN\0\0\0\1\0")]
    public void A_missing_or_broken_value_gives_no_letters(string? iop) => Assert.Null(PatientOrientation.FromImageOrientation(iop));

    [Fact]
    public void Three_letters_for_a_doubly_oblique_direction_strongest_first() =>
        Assert.Equal("LPH", PatientOrientation.Letters(0.7, 0.6, 0.38));
}
