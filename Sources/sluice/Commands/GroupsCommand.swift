import ArgumentParser
import SluiceCore

/// `sluice groups ...`: manage groups of users through `/api/security/groups/*` (requires Administer).
struct GroupsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "groups",
        abstract: "List, create and delete groups of users, and change their members.",
        subcommands: [List.self, Create.self, Delete.self, AddMember.self, RemoveMember.self]
    )

    static let columns: [(key: String, header: String)] = [
        ("name", "NAME"), ("members", "MEMBERS"), ("description", "DESCRIPTION"),
    ]

    /// `sluice groups list`: `GET /api/security/groups/list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the groups and their members.")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, "/api/security/groups/list")
            }
            if connection.json {
                print(response.text)
                return
            }
            let groups = listItems(in: try response.json())
            print(groups.isEmpty ? "No groups." : Table(objects: groups, columns: GroupsCommand.columns).render())
        }
    }

    /// `sluice groups create NAME`: `POST /api/security/groups/create`.
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a group, optionally with members.")

        @Argument(help: "Group name, e.g. \"Network Engineers\".")
        var name: String

        @Option(help: "A description of the group.")
        var description: String?

        @Option(
            name: .customLong("member"),
            help: ArgumentHelp("A user to add to the group (repeat for several).", valueName: "user"))
        var members: [String] = []

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            var body: [String: JSONValue] = ["name": .string(name)]
            if let description { body["description"] = .string(description) }
            if !members.isEmpty { body["members"] = .array(members.map(JSONValue.string)) }
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.POST, "/api/security/groups/create", jsonValue: .object(body))
            }
            print(connection.json ? response.text : "Created group \(name).")
        }
    }

    /// `sluice groups delete NAME`: `DELETE /api/security/groups/delete/{name}`.
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a group and its privileges.")

        @Argument(help: "Group name.")
        var name: String

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.DELETE, "/api/security/groups/delete/\(APIClient.encodePath(name))")
            }
            print(connection.json ? response.text : "Deleted group \(name).")
        }
    }

    /// `sluice groups add-member GROUP USER`: `POST /api/security/groups/add-member/{name}`.
    struct AddMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-member", abstract: "Add a user to a group.")

        @Argument(help: "Group name.")
        var group: String

        @Argument(help: "User name.")
        var user: String

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(
                    .POST, "/api/security/groups/add-member/\(APIClient.encodePath(group))",
                    jsonValue: .object(["user": .string(user)]))
            }
            print(connection.json ? response.text : "Added \(user) to group \(group).")
        }
    }

    /// `sluice groups remove-member GROUP USER`: `POST /api/security/groups/remove-member/{name}`.
    struct RemoveMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove-member", abstract: "Remove a user from a group.")

        @Argument(help: "Group name.")
        var group: String

        @Argument(help: "User name.")
        var user: String

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(
                    .POST, "/api/security/groups/remove-member/\(APIClient.encodePath(group))",
                    jsonValue: .object(["user": .string(user)]))
            }
            print(connection.json ? response.text : "Removed \(user) from group \(group).")
        }
    }
}
