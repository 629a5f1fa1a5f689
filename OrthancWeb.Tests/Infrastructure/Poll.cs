namespace OrthancWeb.Tests.Infrastructure;

/// <summary>Waiting for a condition with a deadline, never for a fixed time (import with <c>using static</c>).</summary>
public static class Poll
{
    public static async Task Until(Func<Task<bool>> condition, string what, int seconds = 90)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not within {seconds} s: {what}");
            await Task.Delay(50);
        }
    }
}
