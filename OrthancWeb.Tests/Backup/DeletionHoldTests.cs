using OrthancWeb.Hosting;
using OrthancWeb.Storage;

namespace OrthancWeb.Tests.Backup;

/// <summary>
/// Issue 21, "Kept": while a backup copies the files its snapshot names, the server deletes none of them (an instance
/// replaced meanwhile would otherwise be gone from the backup, though the server still has it); the deletions are done
/// when the hold ends.
/// </summary>
public sealed class DeletionHoldTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ow-hold-").FullName;

    public void Dispose() => Directory.Delete(_folder, true);

    [Fact]
    public void Deletions_wait_for_the_last_hold_and_are_done_when_it_ends()
    {
        using var area = new StorageArea(new DataPaths(_folder));
        var first = Stored(area);
        var second = Stored(area);

        var backup = area.HoldDeletions();
        var another = area.HoldDeletions();
        area.Delete(first);
        Assert.True(area.Exists(first));
        another.Dispose();
        another.Dispose(); // twice: still one release
        area.Delete(second);
        Assert.True(area.Exists(first));
        Assert.True(area.Exists(second));

        backup.Dispose();
        Assert.False(area.Exists(first));
        Assert.False(area.Exists(second));

        // Without a hold, at once.
        var third = Stored(area);
        area.Delete(third);
        Assert.False(area.Exists(third));
    }

    private static string Stored(StorageArea area)
    {
        var uuid = Guid.NewGuid().ToString();
        Directory.CreateDirectory(Path.GetDirectoryName(area.PathOf(uuid))!);
        File.WriteAllBytes(area.PathOf(uuid), [1, 2, 3]);
        return uuid;
    }
}
