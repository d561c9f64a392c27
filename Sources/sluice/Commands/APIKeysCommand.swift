import ArgumentParser
import SluiceCore

/// `sluice api-keys ...`: create, list and delete API keys through `/api/api-keys/*` (ProGet's shapes).
struct APIKeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api-keys",
        abstract: "Create, list and delete API keys.",
        discussion: """
            Three kinds: feed keys open some feeds for some tasks (view, add, promote, delete); personal keys act as \
            their user; system keys administer everything. A conda client uses a key as \
            http://api:KEY@host/conda/FEED/ or http://host/t/KEY/conda/FEED/.
            """,
        subcommands: [List.self, Create.self, Delete.self]
    )

    static let columns: [(key: String, header: String)] = [
        ("id", "ID"), ("type", "TYPE"), ("displayName", "NAME"), ("feeds", "FEEDS"), ("permissions", "PERMISSIONS"),
        ("user", "USER"), ("expires", "EXPIRES"), ("lastUsedAt", "LAST USED"), ("createdBy", "CREATED BY"),
    ]

    /// `sluice api-keys list`: `GET /api/api-keys/list` (every key for an administrator, else one's own).
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List API keys (never their text).")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, "/api/api-keys/list")
            }
            if connection.json {
                print(response.text)
                return
            }
            let keys = listItems(in: try response.json())
            print(keys.isEmpty ? "No API keys." : Table(objects: keys, columns: APIKeysCommand.columns).render())
        }
    }

    /// `sluice api-keys create --type feed|personal|system`: `POST /api/api-keys/create`. Prints the key text, which
    /// the server shows only this once.
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API key and print its text (shown only this once).",
            discussion: """
                Examples:
                  sluice api-keys create --type feed --feed approved-conda --permission view
                  sluice api-keys create --type personal            (a key acting as yourself)
                  sluice api-keys create --type system --display-name ci
                A custom key text (letters, digits and '-', 8 to 128 characters) can be given on standard input \
                with --key-stdin; otherwise one is generated.
                """
        )

        @Option(help: ArgumentHelp("feed, personal or system.", valueName: "type"))
        var type: String

        @Option(
            name: .customLong("feed"),
            help: ArgumentHelp("Feed keys: a feed the key opens (repeat for several).", valueName: "feed"))
        var feeds: [String] = []

        @Option(
            name: .customLong("permission"),
            help: ArgumentHelp(
                "Feed keys: view, add, promote or delete (repeat for several; default view).", valueName: "name"))
        var permissions: [String] = []

        @Option(
            name: .customLong("for-user"),
            help: ArgumentHelp("Personal keys: the user it acts as (default: yourself).", valueName: "name"))
        var forUser: String?

        @Option(help: "The key's name in listings and the event log.")
        var displayName: String?

        @Option(help: "A description of the key.")
        var description: String?

        @Option(help: ArgumentHelp("When the key stops working: ISO 8601, e.g. 2027-01-31.", valueName: "date"))
        var expires: String?

        @Flag(help: "Read a custom key text from standard input instead of generating one.")
        var keyStdin = false

        @Flag(help: "Print only the key text (for scripts).")
        var keyOnly = false

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            var body: [String: JSONValue] = ["type": .string(type)]
            if !feeds.isEmpty { body["feeds"] = .array(feeds.map(JSONValue.string)) }
            if !permissions.isEmpty { body["permissions"] = .array(permissions.map(JSONValue.string)) }
            if let forUser { body["user"] = .string(forUser) }
            if let displayName { body["displayName"] = .string(displayName) }
            if let description { body["description"] = .string(description) }
            if let expires { body["expires"] = .string(expires) }
            if keyStdin {
                body["key"] = .string(try SecretInput.read(fromStandardInput: true, prompt: "", confirm: false))
            }
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.POST, "/api/api-keys/create", jsonValue: .object(body))
            }
            if connection.json {
                print(response.text)
                return
            }
            let created = try response.json()
            let text = created["key"]?.stringValue ?? ""
            if keyOnly {
                print(text)
                return
            }
            let id = created["id"].map(Table.display) ?? "?"
            let name = created["displayName"]?.stringValue ?? ""
            print("Created \(created["type"]?.stringValue ?? type) key \(id) (\(name)).")
            print("Key (shown only this once): \(text)")
        }
    }

    /// `sluice api-keys delete ID`: `DELETE /api/api-keys/delete/{id}`.
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an API key by its id; it stops working.")

        @Argument(help: "The key id (see `sluice api-keys list`).")
        var id: Int64

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.DELETE, "/api/api-keys/delete/\(id)")
            }
            print(connection.json ? response.text : "Deleted API key \(id).")
        }
    }
}
