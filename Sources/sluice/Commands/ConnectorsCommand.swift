import ArgumentParser
import SluiceCore

/// `sluice connectors ...`: manage connectors (upstream conda channels that proxy feeds draw from) through
/// `/api/management/connectors/*`. The server never returns a connector's password, and neither does the CLI print one.
struct ConnectorsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connectors",
        abstract: "Create, list, show, update and delete connectors to upstream conda channels.",
        discussion: """
            A connector is an upstream channel (another Sluice, repo.anaconda.com, conda.anaconda.org/...) that a \
            proxy feed serves and caches. Attach one with `sluice feeds create|update NAME --connector C`, or make \
            a proxy/hosted feed pair in one step with `sluice feeds create-pair --upstream URL`.
            """,
        subcommands: [Create.self, List.self, Get.self, Update.self, Delete.self]
    )

    /// The columns of the connector table: (header, cell of one connector).
    static let columns: [(header: String, cell: @Sendable (JSONValue) -> String)] = [
        ("NAME", { $0["name"].map(Table.display) ?? "" }),
        ("URL", { $0["url"].map(Table.display) ?? "" }),
        ("TIMEOUT", { $0["timeout"].map { "\(Table.display($0))s" } ?? "" }),
        ("CACHE-MIN", { cacheCell($0) }),
        ("FILTERS", { $0["filters"].map(Table.display) ?? "" }),
        ("FEEDS", { $0["feeds"].map(Table.display) ?? "" }),
        ("AUTH", { authCell($0) }),
    ]

    /// `off` when the metadata cache is disabled, else its minutes.
    static func cacheCell(_ connector: JSONValue) -> String {
        if connector["metadataCacheEnabled"]?.boolValue == false { return "off" }
        return connector["metadataCacheMinutes"].map(Table.display) ?? ""
    }

    /// `basic (USER)` when a password is set (from `hasPassword`; the password itself is never sent), `-` otherwise.
    static func authCell(_ connector: JSONValue) -> String {
        guard connector["hasPassword"]?.boolValue == true else { return "-" }
        return connector["username"]?.stringValue.map { "basic (\($0))" } ?? "basic"
    }

    /// The order of the fields `get` prints before the rest.
    static let detailOrder = [
        "name", "url", "feedType", "description", "timeout", "metadataCacheEnabled", "metadataCacheMinutes",
        "username", "hasPassword", "filters", "feeds", "createdAt",
    ]

    /// The order of the status fields `get` prints before the rest.
    static let statusOrder = [
        "health", "circuit", "lastRefresh", "lastError", "metadataHits", "metadataMisses", "packageHits",
        "packageMisses", "subdirs",
    ]

    /// `sluice connectors create NAME --url URL ...`: `POST /api/management/connectors/create`.
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a connector to an upstream conda channel.")

        @Argument(help: "Connector name: lowercase letters, digits, '.', '_' and '-', 1 to 64 characters.")
        var name: String

        @Option(
            help: ArgumentHelp(
                "The upstream channel, e.g. https://repo.anaconda.com/pkgs/main or http://host:8624/conda/feed.",
                valueName: "url"))
        var url: String

        @Option(help: "A description of the connector.")
        var description: String?

        @OptionGroup var upstream: UpstreamOptions

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            var body = try upstream.fields()
            body["name"] = .string(name)
            body["url"] = .string(url)
            body["feedType"] = .string("conda")
            if let description { body["description"] = .string(description) }
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.POST, "/api/management/connectors/create", jsonValue: .object(body))
            }
            if connection.json {
                print(response.text)
            } else {
                let created = try? response.json()
                print("Created connector \(name) to \(created?["url"]?.stringValue ?? url).")
            }
        }
    }

    /// `sluice connectors list`: `GET /api/management/connectors/list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the connectors and the feeds that use them.")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, "/api/management/connectors/list")
            }
            if connection.json {
                print(response.text)
                return
            }
            let connectors = listItems(in: try response.json())
            if connectors.isEmpty {
                print("No connectors.")
            } else {
                let table = Table(
                    headers: ConnectorsCommand.columns.map(\.header),
                    rows: connectors.map { connector in ConnectorsCommand.columns.map { $0.cell(connector) } })
                print(table.render())
            }
        }
    }

    /// `sluice connectors get NAME`: `GET /api/management/connectors/get/{name}`, with the proxy engine's status.
    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one connector and its status: health, circuit, last refresh and error, hits and misses.")

        @Argument(help: "Connector name.")
        var name: String

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, "/api/management/connectors/get/\(APIClient.encodePath(name))")
            }
            if connection.json {
                print(response.text)
                return
            }
            let value = try response.json()
            guard var fields = value.objectValue else {
                print(Table.display(value))
                return
            }
            let status = fields.removeValue(forKey: "status")
            var text = renderDetails(.object(fields), preferredOrder: ConnectorsCommand.detailOrder)
            if let status, status != .null {
                let lines = renderDetails(status, preferredOrder: ConnectorsCommand.statusOrder)
                    .split(separator: "\n", omittingEmptySubsequences: false)
                text += "\nstatus:\n" + lines.map { "  \($0)" }.joined(separator: "\n")
            }
            print(text)
        }
    }

    /// `sluice connectors update NAME ...`: `POST /api/management/connectors/update/{name}` with only the fields given.
    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a connector; options not given keep their values.",
            discussion: """
                The feeds that use the connector are served from the new settings at once (the server drops what it \
                holds for the old ones). --clear-password removes the stored upstream password, --clear-filters all \
                filters; --filter replaces the whole filter list.
                """
        )

        @Argument(help: "Connector name.")
        var name: String

        @Option(help: ArgumentHelp("A new upstream channel URL.", valueName: "url"))
        var url: String?

        @Option(help: "A new description.")
        var description: String?

        @OptionGroup var upstream: UpstreamOptions

        @Flag(help: "Remove the stored upstream password.")
        var clearPassword = false

        @Flag(help: "Remove every filter (allow all package names).")
        var clearFilters = false

        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            if clearPassword && upstream.readsPassword {
                throw ValidationError("Pass either --clear-password or a new password, not both.")
            }
            if clearFilters && !upstream.filters.isEmpty {
                throw ValidationError("Pass either --clear-filters or --filter, not both.")
            }
            let upstreamGiven =
                upstream.timeout != nil || upstream.metadataCacheMinutes != nil || upstream.metadataCache != nil
                || upstream.username != nil || upstream.readsPassword || !upstream.filters.isEmpty
            if url == nil && description == nil && !upstreamGiven && !clearPassword && !clearFilters {
                throw ValidationError(
                    "Nothing to change: pass --url, --description, --timeout, --metadata-cache-minutes, "
                        + "--[no-]metadata-cache, --username, --password-stdin/--password-env, --clear-password, "
                        + "--filter or --clear-filters.")
            }
        }

        func run() async throws {
            var body = try upstream.fields()
            if let url { body["url"] = .string(url) }
            if let description { body["description"] = .string(description) }
            if clearPassword { body["password"] = .null }
            if clearFilters { body["filters"] = .array([]) }
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(
                    .POST, "/api/management/connectors/update/\(APIClient.encodePath(name))", jsonValue: .object(body))
            }
            if connection.json {
                print(response.text)
            } else {
                print("Updated connector \(name).")
            }
        }
    }

    /// `sluice connectors delete NAME`: `DELETE /api/management/connectors/delete/{name}`.
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a connector and the upstream files cached through it.",
            discussion: "The server refuses (409) while a feed still uses the connector; detach it from those first.")

        @Argument(help: "Connector name.")
        var name: String

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.DELETE, "/api/management/connectors/delete/\(APIClient.encodePath(name))")
            }
            if connection.json {
                print(response.text)
                return
            }
            let removed = (try? response.json())?["cachedFilesRemoved"]?.intValue
            print("Deleted connector \(name)" + (removed.map { " and \($0) cached files." } ?? "."))
        }
    }
}
