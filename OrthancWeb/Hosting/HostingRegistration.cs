namespace OrthancWeb.Hosting;

public static class HostingRegistration
{
    /// <summary>
    /// Reads the one configuration file an admin edits (then the environment, then the command line: ASP.NET's usual
    /// precedence) and resolves the data folder relative to it. The listeners are Security's (they need the certificate).
    /// </summary>
    public static DataPaths AddServerConfiguration(this WebApplicationBuilder builder, string? configFile, string[] args)
    {
        builder.Configuration.Sources.Clear();
        if (configFile is not null)
            builder.Configuration.AddJsonFile(configFile, optional: false, reloadOnChange: false);
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddCommandLine(ConfigurationLocator.StripConfigArgument(args));
        // Last, above the rest: what REST changes until the server stops (the log level).
        builder.Configuration.AddInMemoryCollection();
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning);

        builder.Services.AddOptions<ServerOptions>().Bind(builder.Configuration.GetSection(ServerOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        var server = builder.Configuration.GetSection(ServerOptions.Section).Get<ServerOptions>() ?? new ServerOptions();
        // An unknown name stops the start with ValidateOnStart's message; a known one is in force before the first file is read.
        OrthancEncodings.TryApply(server.DefaultEncoding);
        DeclaredTags.Apply(server.Dictionary);
        var configFolder = configFile is null ? Environment.CurrentDirectory : Path.GetDirectoryName(configFile)!;
        var paths = new DataPaths(Path.GetFullPath(server.DataDirectory, configFolder),
            server.StorageDirectory is { Length: > 0 } storage ? Path.GetFullPath(storage, configFolder) : null) { ConfigurationFolder = configFolder };
        // Before the first file of the data folder is created: the certificate's key, the databases, the images.
        PrivateFiles.RestrictNewFiles();
        PrivateFiles.TightenExisting(paths.Root);
        paths.CreateAll();
        builder.Services.AddSingleton(paths);
        builder.Services.AddSingleton(ServerIdentity.Of(server, paths));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(new RuntimeLogLevel(builder.Configuration));
        return paths;
    }
}
