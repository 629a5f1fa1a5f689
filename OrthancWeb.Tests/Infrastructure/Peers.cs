using System.Diagnostics;

namespace OrthancWeb.Tests.Infrastructure;

/// <summary>
/// The real programs and data the tests compare against. A missing peer is a failure with the command that installs
/// it, never a silent skip (.ci/run installs them all).
/// </summary>
public static class Peers
{
    public const string PydicomData = "/usr/lib/python3/dist-packages/pydicom/data";
    public const string DebianPython = "/usr/bin/python3";

    public static string Tool(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':'))
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path)) return path;
        }
        throw new InvalidOperationException($"'{name}' is required by this test and was not found on PATH: apt-get install -y {PackageOf(name)}");
    }

    private static string PackageOf(string tool) => tool switch
    {
        "dciodvfy" or "dcdirdmp" => "dicom3tools",
        "chromium" => "chromium",
        "Orthanc" => "orthanc",
        "opj_decompress" => "libopenjp2-tools",
        _ => "dcmtk",
    };

    public static string PydicomDir(string sub)
    {
        var dir = Path.Combine(PydicomData, sub);
        if (!Directory.Exists(dir))
            throw new InvalidOperationException($"pydicom's test data ({dir}) is required by this test: apt-get install -y python3-pydicom");
        return dir;
    }

    public static IEnumerable<string> PydicomFiles(string sub = "test_files") =>
        Directory.Exists(Path.Combine(PydicomData, sub))
            ? Directory.GetFiles(Path.Combine(PydicomData, sub), "*.dcm").Order(StringComparer.Ordinal)
            : throw new InvalidOperationException($"pydicom's test data is required: apt-get install -y python3-pydicom");

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool.Contains('/') ? tool : Tool(tool))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // Raw bytes: values are compared byte for byte, whatever character set they are in.
            StandardOutputEncoding = System.Text.Encoding.Latin1,
            StandardErrorEncoding = System.Text.Encoding.Latin1,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(true);
            throw new TimeoutException($"{tool} {string.Join(' ', args)} did not finish in 60 s");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
