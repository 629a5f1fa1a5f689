using System.Reflection;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace OrthancWeb.Index;

/// <summary>
/// The index's migrations for the provider in use. Both histories live in this assembly, each in a namespace of its
/// own; EF Core's default would take the migrations and the snapshot of both, since they name the same context. A
/// migration's identity is its ID, not its namespace, so databases created before the split keep their history.
/// </summary>
internal sealed class ProviderMigrationsAssembly(ICurrentDbContext current, IMigrationsIdGenerator ids) : IMigrationsAssembly
{
    private IReadOnlyDictionary<string, TypeInfo>? _migrations;
    private ModelSnapshot? _snapshot;

    private string Namespace => typeof(ProviderMigrationsAssembly).Namespace + ".Migrations." +
        (current.Context.Database.IsPostgreSql() ? "PostgreSql" : "Sqlite");

    public Assembly Assembly => typeof(IndexDbContext).Assembly;

    private IEnumerable<TypeInfo> OwnTypes => Assembly.DefinedTypes.Where(t =>
        t.Namespace == Namespace && !t.IsAbstract && t.GetCustomAttribute<DbContextAttribute>()?.ContextType == current.Context.GetType());

    public IReadOnlyDictionary<string, TypeInfo> Migrations => _migrations ??= OwnTypes
        .Where(t => t.IsSubclassOf(typeof(Migration)) && t.GetCustomAttribute<MigrationAttribute>() is not null)
        .Select(t => (Id: t.GetCustomAttribute<MigrationAttribute>()!.Id, Type: t))
        .OrderBy(m => m.Id, StringComparer.Ordinal)
        .ToDictionary(m => m.Id, m => m.Type);

    public ModelSnapshot? ModelSnapshot => _snapshot ??= OwnTypes
        .Where(t => t.IsSubclassOf(typeof(ModelSnapshot)))
        .Select(t => (ModelSnapshot)Activator.CreateInstance(t.AsType())!)
        .SingleOrDefault();

    public Migration CreateMigration(TypeInfo migrationClass, string activeProvider)
    {
        var migration = (Migration)Activator.CreateInstance(migrationClass.AsType())!;
        migration.ActiveProvider = activeProvider;
        return migration;
    }

    public string? FindMigrationId(string nameOrId) => Migrations.Keys.FirstOrDefault(id =>
        string.Equals(id, nameOrId, StringComparison.OrdinalIgnoreCase) ||
        string.Equals(ids.GetName(id), nameOrId, StringComparison.OrdinalIgnoreCase));
}
