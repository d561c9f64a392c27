import ArgumentParser
import SluiceCore

/// `sluice permissions ...`: list, grant, restrict and delete privileges through `/api/security/privileges/*`
/// (requires Administer).
struct PermissionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "permissions",
        abstract: "List, grant, restrict and delete the privileges of users, groups and virtual principals.",
        discussion: """
            A permission grants a task to a principal on one feed (--feed) or on all feeds; a restriction denies it \
            and beats every permission. Tasks: view (View & Download), publish (Publish Packages), promote (Promote \
            Packages, checked on the feed promoted from), delete (Delete Packages), manage-feed (Manage Feed), \
            administer (Administer: everything, including security).
            """,
        subcommands: [List.self, Grant.self, Restrict.self, Delete.self]
    )

    /// `sluice permissions list`: `GET /api/security/privileges/list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every permission and restriction.")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, "/api/security/privileges/list")
            }
            if connection.json {
                print(response.text)
                return
            }
            let rows = listItems(in: try response.json()).map { privilege -> [String] in
                let principal = privilege["principal"]
                let kind = principal?["kind"]?.stringValue ?? ""
                let who = principal?["name"]?.stringValue.map { "\(kind) \($0)" } ?? kind
                return [
                    privilege["id"].map(Table.display) ?? "", privilege["type"]?.stringValue ?? "", who,
                    privilege["taskName"]?.stringValue ?? privilege["task"]?.stringValue ?? "",
                    privilege["feed"]?.stringValue ?? "(all feeds)", privilege["createdBy"].map(Table.display) ?? "",
                ]
            }
            print(
                rows.isEmpty
                    ? "No permissions or restrictions: nobody may do anything."
                    : Table(headers: ["ID", "TYPE", "PRINCIPAL", "TASK", "FEED", "CREATED BY"], rows: rows).render())
        }
    }

    /// `sluice permissions grant`: `POST /api/security/privileges/add` with `"type": "permission"`.
    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Grant a task to a principal, on one feed or on all feeds.",
            discussion:
                "Example: sluice permissions grant --group \"Network Engineers\" --task promote --feed unapproved-conda"
        )

        @OptionGroup var privilege: PrivilegeOptions
        @OptionGroup var connection: PrivilegeConnectionOptions

        func run() async throws {
            try await privilege.add(type: "permission", connection: try connection.options())
        }
    }

    /// `sluice permissions restrict`: `POST /api/security/privileges/add` with `"type": "restriction"`.
    struct Restrict: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deny a task to a principal, on one feed or on all feeds (beats every permission).")

        @OptionGroup var privilege: PrivilegeOptions
        @OptionGroup var connection: PrivilegeConnectionOptions

        func run() async throws {
            try await privilege.add(type: "restriction", connection: try connection.options())
        }
    }

    /// `sluice permissions delete ID`: `DELETE /api/security/privileges/delete/{id}`.
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a permission or restriction by its id (see `sluice permissions list`).")

        @Argument(help: "The privilege id.")
        var id: Int64

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.DELETE, "/api/security/privileges/delete/\(id)")
            }
            print(connection.json ? response.text : "Deleted privilege \(id).")
        }
    }
}

/// Who, what and where of `sluice permissions grant|restrict`.
struct PrivilegeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A user.", valueName: "name"))
    var user: String?

    @Option(help: ArgumentHelp("A group of users.", valueName: "name"))
    var group: String?

    @Flag(help: "Requests without credentials.")
    var anonymous = false

    @Flag(help: "Every signed-in user.")
    var authenticated = false

    @Flag(help: "Everyone, signed in or not.")
    var everyone = false

    @Option(
        help: ArgumentHelp(
            "The task: view, publish, promote, delete, manage-feed or administer.", valueName: "task"))
    var task: String

    @Option(help: ArgumentHelp("Only this feed (default: all feeds).", valueName: "feed"))
    var feed: String?

    func validate() throws {
        let chosen = [user != nil, group != nil, anonymous, authenticated, everyone].filter { $0 }.count
        guard chosen == 1 else {
            throw ValidationError(
                "Name exactly one principal: --user NAME, --group NAME, --anonymous, --authenticated or --everyone.")
        }
    }

    /// The principal as the API takes it: `{"kind","name"?}`.
    var principal: JSONValue {
        if let user { return .object(["kind": .string("user"), "name": .string(user)]) }
        if let group { return .object(["kind": .string("group"), "name": .string(group)]) }
        if anonymous { return .object(["kind": .string("anonymous")]) }
        if authenticated { return .object(["kind": .string("authenticated")]) }
        return .object(["kind": .string("everyone")])
    }

    /// A human description, e.g. `group Network Engineers`.
    var principalDescription: String {
        user.map { "user \($0)" } ?? group.map { "group \($0)" }
            ?? (anonymous ? "anonymous" : authenticated ? "authenticated users" : "everyone")
    }

    /// Sends `POST /api/security/privileges/add` and prints the outcome.
    func add(type: String, connection: ConnectionOptions) async throws {
        var body: [String: JSONValue] = [
            "principal": principal, "task": .string(task), "type": .string(type),
        ]
        if let feed { body["feed"] = .string(feed) }
        let response = try await APIClient.withClient(try connection.resolved()) { client in
            try await client.send(.POST, "/api/security/privileges/add", jsonValue: .object(body))
        }
        if connection.json {
            print(response.text)
            return
        }
        let created = try response.json()
        let id = created["id"].map(Table.display) ?? "?"
        let taskName = created["taskName"]?.stringValue ?? task
        let scope = feed.map { "feed \($0)" } ?? "all feeds"
        let verb = type == "restriction" ? "Restricted" : "Granted"
        print(
            "\(verb) \(taskName) on \(scope) \(type == "restriction" ? "for" : "to") \(principalDescription) (id \(id))."
        )
    }
}

/// The connection options of `sluice permissions grant|restrict`, where `--user` names the principal: the same as
/// ``ConnectionOptions`` except that the user to sign in as is `--login` (or SLUICE_USER).
struct PrivilegeConnectionOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Base URL of the Sluice server (env: SLUICE_URL).", valueName: "url"))
    var server: String?

    @Option(name: .long, help: ArgumentHelp("API key, sent as X-ApiKey (env: SLUICE_API_KEY).", valueName: "key"))
    var apiKey: String?

    @Option(
        name: .long,
        help: ArgumentHelp("User name to sign in as, HTTP Basic (env: SLUICE_USER).", valueName: "name"))
    var login: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Password for the Sluice server, HTTP Basic (env: SLUICE_PASSWORD).", valueName: "password")
    )
    var password: String?

    @Flag(name: .long, help: "Print the server's raw JSON instead of a sentence.")
    var json = false

    /// The equivalent ``ConnectionOptions``.
    func options() throws -> ConnectionOptions {
        var arguments: [String] = []
        if let server { arguments += ["--server", server] }
        if let apiKey { arguments += ["--api-key", apiKey] }
        if let login { arguments += ["--user", login] }
        if let password { arguments += ["--password", password] }
        if json { arguments.append("--json") }
        return try ConnectionOptions.parse(arguments)
    }
}

/// `sluice anonymous-access enable|disable|status`: `GET|POST /api/security/anonymous`, the switch for the
/// (anonymous, View & Download, all feeds) permission. Disabling it makes every feed private.
struct AnonymousAccessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anonymous-access",
        abstract: "Allow or stop anonymous View & Download on all feeds, or show whether it is allowed.",
        subcommands: [Enable.self, Disable.self, Status.self]
    )

    static func set(_ enabled: Bool, connection: ConnectionOptions) async throws {
        let response = try await APIClient.withClient(try connection.resolved()) { client in
            try await client.send(.POST, "/api/security/anonymous", jsonValue: .object(["enabled": .bool(enabled)]))
        }
        print(
            connection.json
                ? response.text
                : enabled
                    ? "Anonymous access enabled: anyone may view and download every feed."
                    : "Anonymous access disabled: clients need credentials for every feed.")
    }

    /// `sluice anonymous-access enable`.
    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let anonymous clients view and download every feed.")
        @OptionGroup var connection: ConnectionOptions
        func run() async throws { try await AnonymousAccessCommand.set(true, connection: connection) }
    }

    /// `sluice anonymous-access disable`.
    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Require credentials for every feed.")
        @OptionGroup var connection: ConnectionOptions
        func run() async throws { try await AnonymousAccessCommand.set(false, connection: connection) }
    }

    /// `sluice anonymous-access status`.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show whether anonymous access is enabled.")
        @OptionGroup var connection: ConnectionOptions
        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, "/api/security/anonymous")
            }
            if connection.json {
                print(response.text)
            } else {
                let enabled = try response.json()["enabled"]?.boolValue ?? false
                print(enabled ? "Anonymous access is enabled." : "Anonymous access is disabled.")
            }
        }
    }
}
