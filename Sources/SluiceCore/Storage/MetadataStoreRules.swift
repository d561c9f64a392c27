/// Checks and messages that every ``MetadataStore`` implementation shares, so that the memory and SQL stores say the
/// same thing in the same situation.
public enum MetadataStoreRules {
    /// The first connector name that a feed lists twice, or nil.
    public static func duplicateConnector(in feed: Feed) -> String? {
        var seen = Set<String>()
        for name in feed.connectors where !seen.insert(name).inserted { return name }
        return nil
    }

    /// `.invalidInput`: the feed names a connector twice.
    public static func duplicateConnectorError(feed: String, connector: String) -> SluiceError {
        .invalidInput("Feed '\(feed)' lists connector '\(connector)' more than once.")
    }

    /// `.notFound`: the feed names a connector that does not exist.
    public static func unknownConnectorError(feed: String, connector: String) -> SluiceError {
        .notFound("Feed '\(feed)' names connector '\(connector)', which does not exist; create it first.")
    }

    /// `.conflict`: the connector is still used by `feeds`, which the message names (sorted).
    public static func connectorInUseError(connector: String, feeds: [String]) -> SluiceError {
        let names = feeds.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { "'\($0)'" }
        return .conflict(
            "Connector '\(connector)' is used by feed\(names.count == 1 ? "" : "s") \(names.joined(separator: ", ")); "
                + "remove it from \(names.count == 1 ? "that feed" : "those feeds") first.")
    }
}
