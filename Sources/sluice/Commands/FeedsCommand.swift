import ArgumentParser
import SluiceCore

/// `sluice feeds ...`: manage feeds through `/api/management/feeds/*` (ProGet's feed management API shape): hosted
/// feeds, proxy feeds (a feed with connectors), and the proxy/hosted pair of `create-pair`.
struct FeedsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feeds",
        abstract: "Create, list, show, update and delete feeds on a Sluice server.",
        subcommands: [Create.self, CreatePair.self, List.self, Get.self, Update.self, Delete.self]
    )

    /// The columns of the feed table, in order.
    static let columns: [(key: String, header: String)] = [
        ("name", "NAME"), ("feedType", "TYPE"), ("kind", "KIND"), ("connectors", "CONNECTORS"), ("active", "ACTIVE"),
        ("description", "DESCRIPTION"),
    ]

    /// `sluice feeds create NAME`: `POST /api/management/feeds/create`.
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a conda feed: hosted, or a proxy feed when --connector is given.")

        @Argument(help: "Feed name: lowercase letters, digits, '.', '_' and '-', 1 to 64 characters.")
        var name: String

        @Option(help: "A description of the feed.")
        var description: String?

        @Option(
            name: .customLong("connector"),
            help: ArgumentHelp(
                "A connector the feed serves (repeat for several, in priority order): makes it a proxy feed.",
                valueName: "name"))
        var connectors: [String] = []

        @OptionGroup var connection: ConnectionOptions

        struct Body: Encodable {
            var name: String
            var feedType: String
            var description: String?
            var connectors: [String]?
        }

        func run() async throws {
            let body = Body(
                name: name, feedType: "conda", description: description,
                connectors: connectors.isEmpty ? nil : connectors)
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.POST, "/api/management/feeds/create", json: body)
            }
            if connection.json {
                print(response.text)
            } else if connectors.isEmpty {
                print("Created feed \(name).")
            } else {
                print("Created proxy feed \(name) (connectors: \(connectors.joined(separator: ", "))).")
            }
        }
    }

    /// `sluice feeds create-pair --upstream URL`: `POST /api/management/feeds/create-pair`, which creates a connector to
    /// the upstream, a proxy feed using it (`unapproved-conda`) and an empty hosted feed (`approved-conda`), all or
    /// nothing.
    struct CreatePair: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-pair",
            abstract: "Create a connector, a proxy feed using it, and an empty hosted feed, in one step.",
            discussion: """
                The connector is named after the upstream URL (https://repo.anaconda.com/pkgs/main -> pkgs-main) \
                unless --connector names it; it must not exist yet. If any step fails, nothing is created.
                """
        )

        @Option(
            help: ArgumentHelp(
                "The upstream channel to proxy, e.g. https://repo.anaconda.com/pkgs/main.", valueName: "url"))
        var upstream: String

        @Option(help: ArgumentHelp("Name of the proxy feed (default unapproved-conda).", valueName: "name"))
        var unapprovedFeed: String?

        @Option(help: ArgumentHelp("Name of the hosted feed (default approved-conda).", valueName: "name"))
        var approvedFeed: String?

        @Option(help: ArgumentHelp("Name of the new connector (default: derived from the URL).", valueName: "name"))
        var connector: String?

        @OptionGroup var upstreamOptions: UpstreamOptions

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            var body = try upstreamOptions.fields()
            body["upstream"] = .string(upstream)
            if let unapprovedFeed { body["unapprovedFeed"] = .string(unapprovedFeed) }
            if let approvedFeed { body["approvedFeed"] = .string(approvedFeed) }
            if let connector { body["connector"] = .string(connector) }
            let settings = try connection.resolved()
            let response = try await APIClient.withClient(settings) { client in
                try await client.send(.POST, "/api/management/feeds/create-pair", jsonValue: .object(body))
            }
            if connection.json {
                print(response.text)
                return
            }
            let created = try response.json()
            let connectorName = created["connector"]?["name"]?.stringValue ?? connector ?? "?"
            let connectorURL = created["connector"]?["url"]?.stringValue ?? upstream
            let proxy = created["unapprovedFeed"]?["name"]?.stringValue ?? unapprovedFeed ?? "unapproved-conda"
            let hosted = created["approvedFeed"]?["name"]?.stringValue ?? approvedFeed ?? "approved-conda"
            print("Created connector \(connectorName) to \(connectorURL).")
            print("Created proxy feed \(proxy): \(settings.baseURL)/conda/\(proxy)/")
            print("Created hosted feed \(hosted): \(settings.baseURL)/conda/\(hosted)/")
        }
    }

    /// `sluice feeds list`: `GET /api/management/feeds/list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the feeds.")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, "/api/management/feeds/list")
            }
            if connection.json {
                print(response.text)
                return
            }
            let feeds = listItems(in: try response.json())
            if feeds.isEmpty {
                print("No feeds.")
            } else {
                print(Table(objects: feeds, columns: FeedsCommand.columns).render())
            }
        }
    }

    /// `sluice feeds get NAME`: `GET /api/management/feeds/get/{name}`.
    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one feed.")

        @Argument(help: "Feed name.")
        var name: String

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, "/api/management/feeds/get/\(APIClient.encodePath(name))")
            }
            if connection.json {
                print(response.text)
            } else {
                print(renderDetails(try response.json(), preferredOrder: FeedsCommand.columns.map(\.key)))
            }
        }
    }

    /// `sluice feeds update NAME`: `POST /api/management/feeds/update/{name}` with the fields given.
    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a feed's description, active state or connectors.",
            discussion: """
                --connector replaces the feed's connector list (in priority order); --no-connectors removes them all, \
                which makes the feed hosted again (its local packages stay).
                """
        )

        @Argument(help: "Feed name.")
        var name: String

        @Option(help: "A new description.")
        var description: String?

        @Flag(name: .customLong("active"), help: "Mark the feed active (served to clients).")
        var active = false

        @Flag(name: .customLong("inactive"), help: "Mark the feed inactive.")
        var inactive = false

        @Option(
            name: .customLong("connector"),
            help: ArgumentHelp(
                "The feed's connectors from now on (repeat for several, in priority order).", valueName: "name"))
        var connectors: [String] = []

        @Flag(name: .customLong("no-connectors"), help: "Remove every connector: the feed becomes hosted.")
        var noConnectors = false

        @OptionGroup var connection: ConnectionOptions

        struct Body: Encodable {
            var description: String?
            var active: Bool?
            var connectors: [String]?
        }

        func validate() throws {
            if active && inactive {
                throw ValidationError("Pass at most one of --active and --inactive.")
            }
            if noConnectors && !connectors.isEmpty {
                throw ValidationError("Pass either --connector or --no-connectors, not both.")
            }
            if description == nil && !active && !inactive && connectors.isEmpty && !noConnectors {
                throw ValidationError(
                    "Nothing to change: pass --description, --active, --inactive, --connector or --no-connectors.")
            }
        }

        func run() async throws {
            let body = Body(
                description: description, active: active ? true : (inactive ? false : nil),
                connectors: noConnectors ? [] : (connectors.isEmpty ? nil : connectors))
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.POST, "/api/management/feeds/update/\(APIClient.encodePath(name))", json: body)
            }
            if connection.json {
                print(response.text)
            } else {
                print("Updated feed \(name).")
            }
        }
    }

    /// `sluice feeds delete NAME`: `DELETE /api/management/feeds/delete/{name}`.
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a feed and every package in it.")

        @Argument(help: "Feed name.")
        var name: String

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.DELETE, "/api/management/feeds/delete/\(APIClient.encodePath(name))")
            }
            if connection.json {
                print(response.text)
            } else {
                print("Deleted feed \(name).")
            }
        }
    }
}
