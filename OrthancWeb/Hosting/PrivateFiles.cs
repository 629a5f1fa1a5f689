using System.Runtime.InteropServices;

namespace OrthancWeb.Hosting;

/// <summary>
/// The data folder holds the HTTPS private key, password hashes, the index and every stored image: nobody but the
/// server's own account may read it. The process umask makes every file and folder it creates from then on private
/// (0600 and 0700), SQLite's own -wal and -shm files and the framework's key files included; a data folder made by an
/// older version, with looser modes, is tightened once at start-up.
/// </summary>
public static partial class PrivateFiles
{
    private const UnixFileMode PrivateFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode GroupAndOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Files and folders created by this process from now on are readable by its user only.</summary>
    public static void RestrictNewFiles()
    {
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
            _ = umask(0x3F); // 077
    }

    /// <summary>
    /// Takes group and others' rights off everything under <paramref name="root"/> when the root itself is looser than
    /// 0700 (a folder from before this rule, or one an admin created by hand). The root is tightened last, so a walk cut
    /// short by a crash is done again at the next start; a folder already private is not walked (it may hold millions
    /// of files). Returns the number of entries changed.
    /// </summary>
    public static int TightenExisting(string root)
    {
        if (OperatingSystem.IsWindows() || !Directory.Exists(root)) return 0;
        if ((File.GetUnixFileMode(root) & GroupAndOthers) == 0) return 0;
        var changed = 0;
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true };
        foreach (var entry in new DirectoryInfo(root).EnumerateFileSystemInfos("*", options))
        {
            if (entry.LinkTarget is not null) continue; // a symbolic link's own mode means nothing; its target is not ours
            var mode = entry.UnixFileMode;
            if ((mode & GroupAndOthers) == 0) continue;
            entry.UnixFileMode = mode & ~GroupAndOthers;
            changed++;
        }
        File.SetUnixFileMode(root, (File.GetUnixFileMode(root) & ~GroupAndOthers) | PrivateFolder);
        return changed + 1;
    }

    [DllImport("libc", EntryPoint = "umask")]
    private static extern uint umask(uint mask);
}
