using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using OrthancWeb.Storage;

namespace OrthancWeb.Index;

/// <summary>
/// Lets `dotnet ef migrations add` build the index context without starting the server. Each provider has its own
/// history: `-- PostgreSQL` after the command's options scaffolds into Index/Migrations/PostgreSql (see README).
/// </summary>
public sealed class IndexDbContextDesignFactory : IDesignTimeDbContextFactory<IndexDbContext>
{
    public IndexDbContext CreateDbContext(string[] args)
    {
        var store = args.Contains(IndexDatabase.PostgreSql)
            // Scaffolding needs no server: the connection is never opened.
            ? new StorageOptions { IndexProvider = IndexDatabase.PostgreSql, IndexConnectionString = "Host=localhost;Database=design" }
            : new StorageOptions();
        var options = new DbContextOptionsBuilder<IndexDbContext>();
        IndexDatabase.Configure(options, store, "design-index.db");
        return new IndexDbContext(options.Options);
    }
}
