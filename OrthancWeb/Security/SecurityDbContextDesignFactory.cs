using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace OrthancWeb.Security;

/// <summary>Lets `dotnet ef migrations add` build the context without starting the server.</summary>
public sealed class SecurityDbContextDesignFactory : IDesignTimeDbContextFactory<SecurityDbContext>
{
    public SecurityDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SecurityDbContext>().UseSqlite("Data Source=design.db").Options);
}
