using System.Reflection;
using OrthancWeb.Index;
using Xunit.Sdk;

namespace OrthancWeb.Tests.Index;

/// <summary>Runs an index test once per provider: the embedded SQLite and a real PostgreSQL.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class IndexProvidersAttribute : DataAttribute
{
    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => [[IndexDatabase.Sqlite], [IndexDatabase.PostgreSql]];
}
