import ArgumentParser
import SluiceCore

/// `sluice feeds ...`: manage feeds through `/api/management/feeds/*` (ProGet's feed management API shape).
struct FeedsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feeds",
        abstract: "Create, list, show, update and delete feeds on a Sluice server.",
        subcommands: [Create.self, List.self, Get.self, Update.self, Delete.self]
    )

    /// The columns of the feed table, in order.
    static let columns: [(key: String, header: String)] = [
        ("name", "NAME"), ("feedType", "TYPE"), ("active", "ACTIVE"), ("description", "DESCRIPTION"),
    ]

    /// `sluice feeds create NAME`: `POST /api/management/feeds/create`.
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a hosted conda feed.")

        @Argument(help: "Feed name: lowercase letters, digits, '.', '_' and '-', 1 to 64 characters.")
        var name: String

        @Option(help: "A description of the feed.")
        var description: String?

        @OptionGroup var connection: ConnectionOptions

        struct Body: Encodable {
            var name: String
            var feedType: String
            var description: String?
        }

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(
                    .POST, "/api/management/feeds/create",
                    json: Body(name: name, feedType: "conda", description: description)
                )
            }
            if connection.json {
                print(response.text)
            } else {
                print("Created feed \(name).")
            }
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
        static let configuration = CommandConfiguration(abstract: "Change a feed's description or active state.")

        @Argument(help: "Feed name.")
        var name: String

        @Option(help: "A new description.")
        var description: String?

        @Flag(name: .customLong("active"), help: "Mark the feed active (served to clients).")
        var active = false

        @Flag(name: .customLong("inactive"), help: "Mark the feed inactive.")
        var inactive = false

        @OptionGroup var connection: ConnectionOptions

        struct Body: Encodable {
            var description: String?
            var active: Bool?
        }

        func validate() throws {
            if active && inactive {
                throw ValidationError("Pass at most one of --active and --inactive.")
            }
            if description == nil && !active && !inactive {
                throw ValidationError("Nothing to change: pass --description, --active or --inactive.")
            }
        }

        func run() async throws {
            let body = Body(description: description, active: active ? true : (inactive ? false : nil))
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
