using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Server;

/// <summary>
/// The real server in its own process, as `dotnet run` would start it, with its own config file, free ports and data
/// folder: what an admin gets on a fresh machine.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly PeerProcess _process;

    private ServerProcess(PeerProcess process, string dataDir, int httpsPort, int httpPort)
    {
        _process = process;
        DataDirectory = dataDir;
        HttpsPort = httpsPort;
        HttpPort = httpPort;
    }

    public const string AdminPassword = "Test-Admin-Pa55";

    public string DataDirectory { get; }
    public int ProcessId => _process.Id;
    public int HttpsPort { get; }
    public int HttpPort { get; }
    /// <summary>What the server has printed so far (after it exited: see <see cref="PeerProcess.WaitForExitAsync"/>).</summary>
    public string Log => _process.Output;

    /// <summary>The next port in [20000, 32000) that nothing listens on, on IPv4 or IPv6.</summary>
    /// <remarks>
    /// Never an ephemeral port (Linux hands out 32768-60999 to outgoing connections): a port asked of the kernel with
    /// bind(0) is free only for that instant, and the storescu, findscu and HTTP clients of tests running alongside
    /// would sometimes take it as their local port before the server process bound it. Ports below that range are given
    /// to no one but this allocator, which hands each out once per test run.
    /// </remarks>
    public static int FreePort()
    {
        while (true)
        {
            var port = 20000 + (int)((uint)Interlocked.Increment(ref s_nextPort) % 12000);
            if (CanListen(IPAddress.Any, port) && (!Socket.OSSupportsIPv6 || CanListen(IPAddress.IPv6Any, port))) return port;
        }
    }

    private static int s_nextPort = Random.Shared.Next(12000); // test-run-wide allocator, see FreePort

    private static bool CanListen(IPAddress address, int port)
    {
        try
        {
            using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            if (address.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = false;
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen();
            return true;
        }
        catch (SocketException) { return false; }
    }

    public static string ServerAssembly()
    {
        // Tests run from OrthancWeb.Tests/bin/<Configuration>/net10.0; the server is built next door.
        var testBin = new DirectoryInfo(AppContext.BaseDirectory);
        var configuration = testBin.Parent!.Name;
        var root = testBin.Parent!.Parent!.Parent!.Parent!.FullName;
        var dll = Path.Combine(root, "OrthancWeb", "bin", configuration, "net10.0", "OrthancWeb.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("build OrthancWeb first", dll);
    }

    /// <summary>Starts a server whose admin password is <see cref="AdminPassword"/> unless env says otherwise.</summary>
    public static async Task<ServerProcess> StartAsync(string folder, string extraJson = "", Dictionary<string, string>? env = null, bool keepPorts = false)
    {
        var config = Path.Combine(folder, "appsettings.json");
        int https, http, dicom;
        if (keepPorts && File.Exists(Path.Combine(folder, "ports")))
        {
            var saved = File.ReadAllText(Path.Combine(folder, "ports")).Split(' ').Select(int.Parse).ToArray();
            (https, http, dicom) = (saved[0], saved[1], saved[2]);
        }
        else
        {
            (https, http, dicom) = (FreePort(), FreePort(), FreePort());
            File.WriteAllText(Path.Combine(folder, "ports"), $"{https} {http} {dicom}");
        }
        // Every server gets its own DICOM port unless the test chose one: two on the default 4242 could not both start.
        var dicomPort = extraJson.Contains("\"DicomPort\"") ? "" : $", \"DicomPort\": {dicom}";
        File.WriteAllText(config, $$"""
            { "OrthancWeb": { "HttpsPort": {{https}}, "HttpPort": {{http}}, "DataDirectory": "data", "RemoteAccessAllowed": false {{dicomPort}} {{extraJson}} } }
            """);
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = folder };
        psi.ArgumentList.Add(ServerAssembly());
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(config);
        psi.Environment["Logging__Console__FormatterName"] = "simple";
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        psi.Environment["Logging__LogLevel__OrthancWeb"] = "Information";
        psi.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information"; // "Application started.", see below
        psi.Environment["Security__AdminPassword"] = AdminPassword;
        foreach (var (k, v) in env ?? []) psi.Environment[k] = v;
        var p = PeerProcess.Start(psi);
        var server = new ServerProcess(p, Path.Combine(folder, "data"), https, http);
        using var client = server.CreateClient();
        var deadline = Stopwatch.StartNew();
        // A deadline, not an expectation: starts took 40-60 s with a load average of 40 on 2 cores.
        while (deadline.Elapsed < TimeSpan.FromSeconds(180))
        {
            // Its last lines, which say why, may still be on their way when it has exited: wait for all of them.
            if (p.HasExited) throw new InvalidOperationException("server exited at start-up:\n" + await p.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            try
            {
                await client.GetAsync("/account/login");
                // The console logger writes from a queue of its own, and its lines reach us later still: the server can
                // answer before its start-up lines (the generated password, the start-up check) are in the log. They
                // are in once the line the host logs after start-up is, since they come through one stream in order.
                await p.WaitForOutputAsync(StartedLine, TimeSpan.FromSeconds(30));
                return server;
            }
            catch (HttpRequestException) { await Task.Delay(200); }
        }
        await server.DisposeAsync();
        throw new TimeoutException("server did not answer within 180 s:\n" + server.Log);
    }

    private const string StartedLine = "Application started.";

    /// <summary>An HTTPS client that trusts exactly the certificate the server saved in its data folder.</summary>
    public HttpClient CreateClient(bool followRedirects = false, CookieContainer? cookies = null)
    {
        var handler = new HttpClientHandler
        {
            AllowAutoRedirect = followRedirects,
            CookieContainer = cookies ?? new CookieContainer(),
            ServerCertificateCustomValidationCallback = (_, cert, _, _) =>
                cert is not null && File.Exists(Path.Combine(DataDirectory, "certs", "server.pfx")) &&
                System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(
                    Path.Combine(DataDirectory, "certs", "server.pfx"), null).Thumbprint == cert.Thumbprint,
        };
        var client = new HttpClient(handler) { BaseAddress = new Uri($"https://localhost:{HttpsPort}") };
        client.DefaultRequestHeaders.Accept.ParseAdd("text/html"); // a browser
        return client;
    }

    /// <summary>A REST client as scripts use it: plain HTTP port, HTTP Basic as admin.</summary>
    public HttpClient CreateRestClient(string user = "admin", string password = AdminPassword)
    {
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}"), Timeout = TimeSpan.FromMinutes(5) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return client;
    }

    /// <summary>The administrator password the server generated at its first start (when none was configured).</summary>
    public string GeneratedAdminPassword => File.ReadAllText(Path.Combine(DataDirectory, "admin-password.txt")).Trim();

    /// <summary>Logs in through the login page as a browser does (form with its antiforgery token); returns the form post's answer.</summary>
    public static async Task<HttpResponseMessage> LoginAsync(HttpClient client, string user, string password, string returnUrl = "/")
    {
        var form = await client.GetStringAsync("/account/login");
        var token = System.Text.RegularExpressions.Regex.Match(form, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/account/login")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["userName"] = user, ["password"] = password, ["returnUrl"] = returnUrl, ["__RequestVerificationToken"] = token,
            }),
        };
        request.Headers.Add("Origin", client.BaseAddress!.GetLeftPart(UriPartial.Authority));
        return await client.SendAsync(request);
    }

    /// <summary>Changes the signed-in user's password through the change-password page's form.</summary>
    public static async Task<HttpResponseMessage> ChangePasswordAsync(HttpClient client, string current, string next)
    {
        var form = await client.GetStringAsync("/account/password");
        var token = System.Text.RegularExpressions.Regex.Match(form, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/account/password")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["current"] = current, ["next"] = next, ["__RequestVerificationToken"] = token,
            }),
        };
        request.Headers.Add("Origin", client.BaseAddress!.GetLeftPart(UriPartial.Authority));
        return await client.SendAsync(request);
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a power cut of the process.</summary>
    public void Kill() => _process.Kill();

    public bool HasExited => _process.HasExited;

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
