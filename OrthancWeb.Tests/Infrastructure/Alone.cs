namespace OrthancWeb.Tests.Infrastructure;

/// <summary>
/// Tests that measure a speed the product promises (the reading viewer's slice change): xUnit runs this collection
/// after every parallel one has finished, so the figure is the product's and not the contention of a loaded CI
/// machine running two other server tests beside it.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class Alone
{
    public const string Name = "Alone: timed on a quiet machine";
}
