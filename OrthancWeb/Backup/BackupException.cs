namespace OrthancWeb.Backup;

/// <summary>A backup or a restore that cannot be done as asked (the target is not empty, no backup there...): the message says why.</summary>
public class BackupException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A backup this server does not make itself (an index on PostgreSQL): the message names the tool that does.</summary>
public sealed class BackupNotSupportedException(string message) : BackupException(message);
