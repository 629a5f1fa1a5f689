namespace OrthancWeb.Index;

/// <summary>
/// A compiled EF Core query, compiled once per provider: a compiled query is bound to the model it first ran with, and
/// SQLite and PostgreSQL each have their own (a server uses one; the tests run the index on both in one process).
/// </summary>
internal sealed class ProviderCompiledQuery<TQuery>(Func<TQuery> compile) where TQuery : Delegate
{
    private TQuery? _sqlite, _postgreSql;

    public TQuery For(IndexDbContext db) =>
        db.Database.IsPostgreSql() ? _postgreSql ??= compile() : _sqlite ??= compile();
}
