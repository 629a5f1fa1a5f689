using Microsoft.EntityFrameworkCore;
using OrthancWeb.Index;

namespace OrthancWeb.Modification;

/// <summary>
/// Keys for the keyed UID maps (see UidMap): one random server secret, made once and kept in the index database,
/// combined with a purpose ("rule:trial-7", "job:{id}"). A routing rule thus maps the same UID the same way every
/// time, and a job that is resumed or retried redoes its work with the same UIDs instead of making a second copy.
/// </summary>
public sealed class PseudonymKeys(IDbContextFactory<IndexDbContext> contexts) : IDisposable
{
    private readonly GlobalPropertyStore<string> _store = new(contexts, "Pseudonymization:");
    // Two jobs asking for the first key at once must not each make and save a secret of their own: the one whose
    // secret lost would, resumed after a restart, map the same UIDs differently and make a second anonymized copy.
    private readonly SemaphoreSlim _making = new(1, 1);
    private string? _secret;

    public async Task<string> KeyForAsync(string purpose, CancellationToken ct)
    {
        if (_secret is null)
        {
            await _making.WaitAsync(ct);
            try
            {
                if (_secret is null)
                {
                    // The first secret saved stands, whichever server of several sharing the index made it.
                    _secret = _store.All.TryGetValue("Secret", out var s) ? s
                        : await _store.AddIfAbsentAsync("Secret", Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)), ct);
                }
            }
            finally { _making.Release(); }
        }
        return _secret + "|" + purpose;
    }

    public void Dispose()
    {
        _store.Dispose();
        _making.Dispose();
    }
}
