using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace OrthancWeb.Index;

/// <summary>Lets `dotnet ef migrations add` build the index context without starting the server.</summary>
public sealed class IndexDbContextDesignFactory : IDesignTimeDbContextFactory<IndexDbContext>
{
    public IndexDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<IndexDbContext>().UseSqlite("Data Source=design-index.db").Options);
}
