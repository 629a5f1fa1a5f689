using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Browser;

/// <summary>
/// The frame of a browser test class: a server of its own in a temporary folder and Debian's chromium, started
/// before each test and removed after it, pass or fail.
/// </summary>
public abstract class ChromiumServerTest(string folderPrefix) : IAsyncLifetime
{
    /// <summary>The test's temporary folder: the server's data, and any files the test writes.</summary>
    protected string Folder { get; private set; } = "";
    protected ServerProcess Server { get; private set; } = null!;
    protected Chromium Chromium { get; private set; } = null!;

    /// <summary>Settings added to the server's configuration (a JSON fragment that starts with a comma).</summary>
    protected virtual string Settings => "";

    /// <summary>Environment variables of the server's process (settings outside the "OrthancWeb" section).</summary>
    protected virtual Dictionary<string, string>? ServerEnvironment => null;

    /// <summary>The server's own folder: the test's folder unless a test keeps its files apart.</summary>
    protected virtual string ServerFolder => Folder;

    public virtual async Task InitializeAsync()
    {
        Folder = Directory.CreateTempSubdirectory(folderPrefix).FullName;
        Server = await ServerProcess.StartAsync(Directory.CreateDirectory(ServerFolder).FullName, Settings, ServerEnvironment);
        Chromium = await Chromium.LaunchAsync();
    }

    public virtual async Task DisposeAsync()
    {
        if (Chromium is not null) await Chromium.DisposeAsync();
        if (Server is not null) await Server.DisposeAsync();
        try { Directory.Delete(Folder, true); } catch (IOException) { }
    }

    /// <summary>A URL of the server, from a path relative to its root.</summary>
    protected string Url(string pathAndQuery) => $"https://localhost:{Server.HttpsPort}/{pathAndQuery}";
}
