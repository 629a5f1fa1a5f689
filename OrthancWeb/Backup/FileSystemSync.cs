using System.Runtime.InteropServices;

namespace OrthancWeb.Backup;

/// <summary>
/// One sync(2) once a backup or a restore is written, in place of an fsync per file: the thousands of copied files and
/// their folders reach the disk together before the manifest says the backup is complete (and again after it).
/// </summary>
internal static class FileSystemSync
{
    public static void SyncAll()
    {
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD()) sync();
    }

    [DllImport("libc")]
    private static extern void sync();
}
