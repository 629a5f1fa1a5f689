using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace OrthancWeb.Security;

/// <summary>
/// Failed logins counted per client address, with an exponential wait instead of an account lock: after
/// <see cref="SecurityOptions.LoginFailuresBeforeDelay"/> failures an address must wait one second before its next
/// attempt, and each further failure doubles the wait up to <see cref="SecurityOptions.LoginMaximumDelay"/>. An
/// attempt during the wait is refused without looking at the password, so guessing costs the attacker time, while the
/// account stays open to its owner at another address (Identity's lockout would let anyone lock out the administrator).
/// A success from the address forgets its failures; an address quiet for an hour past its wait is forgotten too.
/// IPv6 clients are counted per /64, the block one host can draw addresses from.
/// </summary>
public sealed class LoginThrottle(TimeProvider time, IOptions<SecurityOptions> options)
{
    private static readonly TimeSpan s_forgetAfter = TimeSpan.FromHours(1);
    private const int MaxAddresses = 100_000;
    private readonly ConcurrentDictionary<string, Entry> _entries = new();

    private sealed class Entry
    {
        public int Failures;
        public DateTimeOffset Until;
        public DateTimeOffset LastFailure;
    }

    /// <summary>How long the address must still wait before an attempt is looked at (zero: go ahead).</summary>
    public TimeSpan RetryAfter(IPAddress? address)
    {
        if (!_entries.TryGetValue(Key(address), out var entry)) return TimeSpan.Zero;
        lock (entry)
        {
            var left = entry.Until - time.GetUtcNow();
            return left > TimeSpan.Zero ? left : TimeSpan.Zero;
        }
    }

    /// <summary>Counts a failure; returns the wait it imposes from now (zero while under the threshold) and the count.</summary>
    public (TimeSpan Delay, int Failures) Failed(IPAddress? address)
    {
        var now = time.GetUtcNow();
        if (_entries.Count >= MaxAddresses) Forget(now);
        var entry = _entries.GetOrAdd(Key(address), _ => new Entry());
        lock (entry)
        {
            if (now - entry.LastFailure > s_forgetAfter + TimeSpan.FromSeconds(options.Value.LoginMaximumDelay)) entry.Failures = 0;
            entry.Failures++;
            entry.LastFailure = now;
            var over = entry.Failures - options.Value.LoginFailuresBeforeDelay;
            if (over < 0) return (TimeSpan.Zero, entry.Failures);
            var seconds = Math.Min(options.Value.LoginMaximumDelay, Math.Pow(2, Math.Min(over, 30)));
            var delay = TimeSpan.FromSeconds(seconds);
            entry.Until = now + delay;
            return (delay, entry.Failures);
        }
    }

    /// <summary>A successful login from the address: its count starts again.</summary>
    public void Succeeded(IPAddress? address) => _entries.TryRemove(Key(address), out _);

    private void Forget(DateTimeOffset now)
    {
        foreach (var (key, entry) in _entries)
        {
            lock (entry)
            {
                if (entry.Until < now && now - entry.LastFailure > s_forgetAfter) _entries.TryRemove(key, out _);
            }
        }
        // Still full (a flood from a million addresses): start again rather than grow without bound.
        if (_entries.Count >= MaxAddresses) _entries.Clear();
    }

    internal static string Key(IPAddress? address)
    {
        if (address is null) return "";
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return address.ToString();
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }
}
