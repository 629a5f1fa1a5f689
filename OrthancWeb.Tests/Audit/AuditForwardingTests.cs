using System.Net;
using System.Net.Sockets;
using System.Security.Claims;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.AspNetCore.Http;
using OrthancWeb.Audit;
using OrthancWeb.Components;

namespace OrthancWeb.Tests.Audit;

/// <summary>Syslog forwarding (RFC 5424 over UDP and TCP with octet counting) to real sockets, and the UI circuit's actor.</summary>
public sealed partial class AuditForwardingTests
{
    // RFC 5424 6: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]
    [GeneratedRegex(@"^<(?<pri>\d{1,3})>(?<version>1) (?<ts>\S+) (?<host>[!-~]{1,255}) (?<app>[!-~]{1,48}) (?<proc>[!-~]{1,128}) (?<msgid>[!-~]{1,32}) (?<sd>-|\[.*?\]) (?<msg>.*)$", RegexOptions.Singleline)]
    private static partial Regex Rfc5424();

    private static AuditEvent Download => new(AuditActions.Download, AuditOutcome.Success)
    {
        User = "alice", Address = "10.1.2.3", Source = AuditSources.Rest, PatientId = "PAT-7", StudyInstanceUid = "1.2.3.4", ResourceLevel = "Instance", ResourceId = "abc",
    };

    private static Match Parse(byte[] frame)
    {
        // The MSG part starts with a UTF-8 BOM (RFC 5424 6.4); the header is US-ASCII.
        var text = Encoding.UTF8.GetString(frame);
        var m = Rfc5424().Match(text);
        Assert.True(m.Success, "not an RFC 5424 message: " + text);
        Assert.Equal(10 * 8 + 5, int.Parse(m.Groups["pri"].Value, System.Globalization.CultureInfo.InvariantCulture)); // authpriv.notice
        Assert.True(DateTimeOffset.TryParse(m.Groups["ts"].Value, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out _));
        Assert.EndsWith("Z", m.Groups["ts"].Value, StringComparison.Ordinal);
        Assert.Equal("OrthancWeb", m.Groups["app"].Value);
        return m;
    }

    [Fact]
    public async Task Entries_reach_a_UDP_collector_as_RFC_5424_messages_carrying_A5_XML()
    {
        using var collector = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)collector.Client.LocalEndPoint!).Port;
        await using var host = await AuditHost.StartAsync(new() { ["Audit:AuditSyslogServer"] = $"127.0.0.1:{port}", ["Audit:AuditSyslogProtocol"] = "UDP" });
        host.Trail.Record(Download);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var datagram = await collector.ReceiveAsync(timeout.Token);
        var bytes = datagram.Buffer;
        var m = Parse(bytes);
        Assert.Equal("IHE+RFC-3881", m.Groups["msgid"].Value);
        var msg = m.Groups["msg"].Value;
        Assert.StartsWith("\uFEFF<?xml", msg, StringComparison.Ordinal);
        var message = XDocument.Parse(msg.TrimStart('\uFEFF')).Root!;
        AuditMessageShape.AssertValid(message);
        Assert.Equal("PAT-7", message.Elements("ParticipantObjectIdentification").Single(o => o.Attribute("ParticipantObjectTypeCode")!.Value == "1").Attribute("ParticipantObjectID")!.Value);
    }

    [Fact]
    public async Task Entries_reach_a_TCP_collector_framed_by_octet_counting()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            await using var host = await AuditHost.StartAsync(new()
            {
                ["Audit:AuditSyslogServer"] = $"127.0.0.1:{port}", ["Audit:AuditSyslogProtocol"] = "TCP", ["Audit:AuditSyslogFormat"] = "Text",
            });
            for (var i = 0; i < 3; i++) host.Trail.Record(Download with { Details = "copy " + i });
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            using var client = await listener.AcceptTcpClientAsync(timeout.Token);
            var stream = client.GetStream();
            for (var i = 0; i < 3; i++)
            {
                // RFC 6587 3.4.1: MSG-LEN SP SYSLOG-MSG, the length in octets.
                var length = 0;
                for (int b; (b = await ReadByteAsync(stream, timeout.Token)) != ' ';)
                {
                    Assert.InRange(b, '0', '9');
                    length = length * 10 + (b - '0');
                }
                var frame = new byte[length];
                await stream.ReadExactlyAsync(frame, timeout.Token);
                var m = Parse(frame);
                Assert.Equal("AUDIT", m.Groups["msgid"].Value);
                var msg = m.Groups["msg"].Value.TrimStart('\uFEFF');
                Assert.Contains($"id={i + 1} action=Download outcome=0 user=\"alice\" address=\"10.1.2.3\"", msg, StringComparison.Ordinal);
                Assert.Contains($"patient=\"PAT-7\"", msg, StringComparison.Ordinal);
                Assert.Contains($"details=\"copy {i}\"", msg, StringComparison.Ordinal);
                Assert.Matches("hash=[0-9a-f]{64}$", msg);
            }
        }
        finally { listener.Stop(); }
    }

    private static async Task<int> ReadByteAsync(Stream stream, CancellationToken ct)
    {
        var one = new byte[1];
        await stream.ReadExactlyAsync(one, ct);
        return one[0];
    }

    private sealed class SignedIn(ClaimsPrincipal user) : AuthenticationStateProvider
    {
        public override Task<AuthenticationState> GetAuthenticationStateAsync() => Task.FromResult(new AuthenticationState(user));
    }

    [Fact]
    public async Task A_circuit_event_records_as_its_user_from_the_address_that_opened_the_circuit()
    {
        var user = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "carol")], "test"));
        var opening = new DefaultHttpContext();
        opening.Connection.RemoteIpAddress = IPAddress.Parse("192.168.7.9");
        var accessor = new HttpContextAccessor { HttpContext = opening };
        var handler = new CallerCircuitHandler(new SignedIn(user), accessor);
        accessor.HttpContext = null; // later events come on no HTTP request
        AuditActor? seen = null;
        var activity = handler.CreateInboundActivityHandler(_ =>
        {
            seen = AuditActor.Current;
            return Task.CompletedTask;
        });
        await activity((CircuitInboundActivityContext)System.Runtime.CompilerServices.RuntimeHelpers.GetUninitializedObject(typeof(CircuitInboundActivityContext)));
        Assert.Equal(new AuditActor("carol", "192.168.7.9", AuditSources.Ui), seen);
        Assert.Null(AuditActor.Current);
    }
}
