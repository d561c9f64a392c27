import ArgumentParser
import SluiceCore

/// `sluice events`: the security event log, `GET /api/events`, newest first (requires Administer).
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Show the security event log: failed sign-ins, key, user, group and permission changes.",
        discussion: "Page back with --before ID (the smallest id of the previous page)."
    )

    @Option(help: "At most this many events (1 to 1000, default 100).")
    var limit: Int?

    @Option(help: ArgumentHelp("Only events older than this id.", valueName: "id"))
    var before: Int64?

    @Option(help: ArgumentHelp("Only events of this kind, e.g. login-failed or api-key-created.", valueName: "kind"))
    var kind: String?

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        var query: [(String, String)] = []
        if let limit { query.append(("limit", String(limit))) }
        if let before { query.append(("before", String(before))) }
        if let kind { query.append(("kind", kind)) }
        let response = try await APIClient.withClient(try connection.resolved()) { client in
            try await client.send(.GET, "/api/events", query: query)
        }
        if connection.json {
            print(response.text)
            return
        }
        let events = listItems(in: try response.json())
        let columns: [(key: String, header: String)] = [
            ("id", "ID"), ("at", "AT"), ("kind", "KIND"), ("actor", "ACTOR"), ("subject", "SUBJECT"),
            ("remoteAddress", "ADDRESS"), ("detail", "DETAIL"),
        ]
        print(events.isEmpty ? "No events." : Table(objects: events, columns: columns).render())
    }
}
