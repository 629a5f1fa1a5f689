using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using OrthancWeb.Audit;
using OrthancWeb.Index;
using OrthancWeb.Security;
using OrthancWeb.Storage;

namespace OrthancWeb.Tests.Index;

/// <summary>
/// The server runs on compiled models (made by <c>dotnet ef dbcontext optimize</c>, issue 21) instead of building its
/// models from the code at each start. A compiled model is generated code: if an entity or its configuration changes
/// and nobody runs the command again, the server would read and write with the old model. Each compiled model must
/// therefore describe exactly the model the code builds; the message says which command brings it up to date.
/// </summary>
public sealed class CompiledModelTests
{
    [Theory]
    [InlineData(IndexDatabase.Sqlite)]
    [InlineData(IndexDatabase.PostgreSql)]
    public void The_index_compiled_models_match_the_code(string provider)
    {
        // No connection is opened: building a model needs none.
        var store = new StorageOptions { IndexProvider = provider, IndexConnectionString = "Host=localhost;Database=model" };
        var compiled = new DbContextOptionsBuilder<IndexDbContext>();
        IndexDatabase.Configure(compiled, store, "model.db");
        var built = new DbContextOptionsBuilder<IndexDbContext>();
        IndexDatabase.Configure(built, store, "model.db", compiledModel: false);
        var args = provider == IndexDatabase.PostgreSql ? " -- PostgreSQL" : "";
        AssertSame(new IndexDbContext(built.Options), new IndexDbContext(compiled.Options),
            $"dotnet ef dbcontext optimize --context IndexDbContext --output-dir Index/CompiledModels/{(provider == IndexDatabase.Sqlite ? "Sqlite" : "PostgreSql")} " +
            $"--namespace OrthancWeb.Index.CompiledModels.{(provider == IndexDatabase.Sqlite ? "Sqlite" : "PostgreSql")}{args}");
    }

    [Fact]
    public void The_accounts_compiled_model_matches_the_code() => AssertSame(
        new SecurityDbContext(new DbContextOptionsBuilder<SecurityDbContext>().UseSqlite("Data Source=model.db").Options),
        new SecurityDbContext(new DbContextOptionsBuilder<SecurityDbContext>().UseSqlite("Data Source=model.db")
            .UseModel(OrthancWeb.Security.CompiledModel.SecurityDbContextModel.Instance).Options),
        "dotnet ef dbcontext optimize --context SecurityDbContext --output-dir Security/CompiledModel --namespace OrthancWeb.Security.CompiledModel");

    [Fact]
    public void The_audit_compiled_model_matches_the_code() => AssertSame(
        new AuditDbContext(new DbContextOptionsBuilder<AuditDbContext>().UseSqlite("Data Source=model.db").Options),
        new AuditDbContext(new DbContextOptionsBuilder<AuditDbContext>().UseSqlite("Data Source=model.db")
            .UseModel(OrthancWeb.Audit.CompiledModel.AuditDbContextModel.Instance).Options),
        "dotnet ef dbcontext optimize --context AuditDbContext --output-dir Audit/CompiledModel --namespace OrthancWeb.Audit.CompiledModel");

    [Fact]
    public void A_changed_model_is_caught()
    {
        // The comparison itself must see a difference as small as one column's length.
        var store = new StorageOptions();
        var changed = new DbContextOptionsBuilder<IndexDbContext>();
        IndexDatabase.Configure(changed, store, "model.db", compiledModel: false);
        changed.ReplaceService<IModelCustomizer, LongerPublicIds>();
        var compiled = new DbContextOptionsBuilder<IndexDbContext>();
        IndexDatabase.Configure(compiled, store, "model.db");
        using var a = new IndexDbContext(changed.Options);
        using var b = new IndexDbContext(compiled.Options);
        Assert.NotEqual(Describe(a.Model), Describe(b.Model));
    }

    private sealed class LongerPublicIds(ModelCustomizerDependencies dependencies) : ModelCustomizer(dependencies)
    {
        public override void Customize(ModelBuilder modelBuilder, DbContext context)
        {
            base.Customize(modelBuilder, context);
            modelBuilder.Entity<Resource>().Property(r => r.PublicId).HasMaxLength(100);
        }
    }

    private static void AssertSame(DbContext built, DbContext compiled, string command)
    {
        using (built)
        using (compiled)
        {
            // The generated subclass, not a model EF Core built itself.
            Assert.EndsWith("DbContextModel", compiled.Model.GetType().Name, StringComparison.Ordinal);
            var expected = Describe(built.Model);
            Assert.Contains("EntityType: ", expected, StringComparison.Ordinal);
            var actual = Describe(compiled.Model);
            Assert.True(expected == actual,
                $"The compiled model no longer matches the code: run `{command}` in OrthancWeb/ (then delete the generated " +
                $"*AssemblyAttributes.cs: the model is chosen in code).\nFirst difference:\n{FirstDifference(expected, actual)}");
        }
    }

    /// <summary>Entity types, properties, keys, indexes, foreign keys, their annotations, and the tables and columns they map to.</summary>
    private static string Describe(IModel model) =>
        model.ToDebugString(MetadataDebugStringOptions.LongDefault) + "\n" +
        model.GetRelationalModel().ToDebugString(MetadataDebugStringOptions.LongDefault);

    private static string FirstDifference(string expected, string actual)
    {
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        for (var i = 0; i < Math.Max(e.Length, a.Length); i++)
        {
            var x = i < e.Length ? e[i] : "(end)";
            var y = i < a.Length ? a[i] : "(end)";
            if (x != y) return $"line {i + 1}\n  code:     {x.Trim()}\n  compiled: {y.Trim()}";
        }
        return "(none)";
    }
}
