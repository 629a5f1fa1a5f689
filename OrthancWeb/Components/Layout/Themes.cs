using MudBlazor;

namespace OrthancWeb.Components.Layout;

/// <summary>
/// The explorer's colours: MudBlazor's defaults with the few that fail WCAG 2.1 AA contrast (4.5:1 for text, as
/// axe-core checks it) made darker in the light theme and lighter in the dark one, with dark text on the light ones.
/// </summary>
public static class Themes
{
    private const string DarkText = "rgba(0,0,0,0.87)";

    public static readonly MudTheme Explorer = new()
    {
        PaletteLight = new PaletteLight
        {
            Secondary = "#c2185b",
            Info = "#1565c0",
            Success = "#2e7d32",
            Warning = "#8d5d00",
            Error = "#c62828",
            TextSecondary = "rgba(0,0,0,0.62)",
        },
        PaletteDark = new PaletteDark
        {
            Primary = "#a9a1f7",
            PrimaryContrastText = DarkText,
            Secondary = "#f48fb1",
            SecondaryContrastText = DarkText,
            Info = "#90caf9",
            InfoContrastText = DarkText,
            Success = "#81c784",
            SuccessContrastText = DarkText,
            Warning = "#ffb74d",
            WarningContrastText = DarkText,
            Error = "#ef9a9a",
            ErrorContrastText = DarkText,
            TextSecondary = "rgba(255,255,255,0.75)",
            ActionDefault = "rgba(255,255,255,0.80)",
        },
    };
}
