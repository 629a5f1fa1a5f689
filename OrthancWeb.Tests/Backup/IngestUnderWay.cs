using System.Diagnostics;
using OrthancWeb.Tests.Infrastructure;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Backup;

/// <summary>What a backup is taken during: storescu sending a generated series, with some of it already stored.</summary>
internal static class IngestUnderWay
{
    /// <summary>
    /// Writes <paramref name="instances"/> to <paramref name="work"/>, starts storescu on them and returns once
    /// <paramref name="storedFirst"/> instances are in, with the send still going (its task, to await later).
    /// </summary>
    public static async Task<Task<StorescuSender>> StartAsync(HttpClient admin, string callingAet, int port,
        IReadOnlyList<GeneratedInstance> instances, string work, int storedFirst = 100)
    {
        var files = new List<string>();
        foreach (var (instance, i) in instances.Select((x, i) => (x, i)))
        {
            var path = Path.Combine(work, $"{i:D4}.dcm");
            await File.WriteAllBytesAsync(path, instance.Bytes);
            files.Add(path);
        }
        var send = StorescuSender.SendAsync(callingAet, "ORTHANCWEB", port, files);
        var deadline = Stopwatch.StartNew();
        while ((await GetJsonAsync(admin, "/statistics"))["CountInstances"]!.GetValue<long>() < storedFirst)
        {
            if (send.IsCompleted) Assert.Fail($"storescu ended before {storedFirst} instances were in:\n" + (await send).Output);
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), $"{storedFirst} instances were not stored within 60 s");
            await Task.Delay(20);
        }
        return send;
    }
}
