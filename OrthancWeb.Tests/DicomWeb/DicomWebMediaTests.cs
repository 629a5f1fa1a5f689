using OrthancWeb.DicomWeb.Server;

namespace OrthancWeb.Tests.DicomWeb;

/// <summary>Accept headers as DICOMweb clients write them (PS3.18 8.7), and Warning values the server can always send.</summary>
public sealed class DicomWebMediaTests
{
    [Fact]
    public void Accept_takes_unquoted_types_orders_by_quality_and_drops_what_it_cannot_read()
    {
        var accepted = DicomWebMedia.ParseAccept(
            "multipart/related; type=application/dicom; transfer-syntax=1.2.840.10008.1.2.4.50, " +
            "multipart/related; type=\"application/dicom\"; transfer-syntax=*; q=0.5, not a type, image/png; q=0, application/dicom+json; q=0.8");
        Assert.Equal(3, accepted.Count);
        Assert.Equal(("multipart/related", "application/dicom", "1.2.840.10008.1.2.4.50"), (accepted[0].MediaType, accepted[0].PartType, accepted[0].TransferSyntax));
        Assert.Equal(DicomWebMedia.DicomJson, accepted[1].MediaType);
        Assert.Equal(("*", 0.5), (accepted[2].TransferSyntax, accepted[2].Quality));
        Assert.DoesNotContain(accepted, m => m.MediaType == "image/png"); // q=0: "not this"
        Assert.True(Assert.Single(DicomWebMedia.ParseAccept("")).IsAny);
        Assert.True(Assert.Single(DicomWebMedia.ParseAccept("garbage")).IsAny);
        Assert.Empty(DicomWebMedia.ParseAccept("image/jpeg; q=0"));
    }

    [Fact]
    public void A_warning_is_printable_ASCII_quoted_and_bounded_whatever_it_echoes()
    {
        var warning = DicomWebMedia.Warning("Pätient \"name\"\r\nX-Injected: 1" + new string('x', 1000));
        Assert.StartsWith("299 OrthancWeb: \"P?tient 'name'??X-Injected: 1", warning);
        Assert.EndsWith("...\"", warning);
        Assert.True(warning.Length < 340);
        Assert.All(warning, c => Assert.InRange(c, ' ', '~'));
    }

    [Fact]
    public void Each_instance_goes_in_the_first_acceptable_syntax_that_fits_it()
    {
        static OrthancWeb.Index.WebInstance Stored(string syntax) => new(1, "id", "p", "1.2", "1.2.3", "1.2.3.4", "1.2.840.10008.5.1.4.1.1.2", syntax, null!, null);
        const string Jpeg = "1.2.840.10008.1.2.4.50", Rle = "1.2.840.10008.1.2.5", Explicit = "1.2.840.10008.1.2.1", Implicit = "1.2.840.10008.1.2";
        var acceptable = WadoService.AcceptableInstanceSyntaxes(DicomWebMedia.ParseAccept(
            $"multipart/related; type=\"application/dicom\"; transfer-syntax={Jpeg}, multipart/related; type=\"application/dicom\"; transfer-syntax={Implicit}; q=0.9"));
        Assert.Null(WadoService.ChooseSyntax(acceptable, Stored(Jpeg))); // its own syntax comes first: as stored
        Assert.Equal(Implicit, WadoService.ChooseSyntax(acceptable, Stored(Rle))!.Uid); // cannot become JPEG here: decoded instead
        Assert.Equal(Implicit, WadoService.ChooseSyntax(acceptable, Stored(Explicit))!.Uid);
        // A syntax no codec here reads can only go as stored.
        var unknown = Assert.Throws<DicomWebException>(() => WadoService.ChooseSyntax(acceptable, Stored("1.2.840.10008.1.2.4.100")));
        Assert.Equal(406, unknown.Status);
        Assert.Null(WadoService.ChooseSyntax(WadoService.AcceptableInstanceSyntaxes(DicomWebMedia.ParseAccept("multipart/related; type=\"application/dicom\"; transfer-syntax=*")), Stored("1.2.840.10008.1.2.4.100")));
        Assert.Equal(406, Assert.Throws<DicomWebException>(() => WadoService.AcceptableInstanceSyntaxes(DicomWebMedia.ParseAccept("application/dicom+json"))).Status);
    }
}
