import ArgumentParser
import Foundation
import SluiceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `sluice users ...`: manage the built-in users through `/api/security/users/*` (requires Administer).
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "List, create, update and delete the built-in users of a Sluice server.",
        subcommands: [List.self, Create.self, Update.self, Delete.self]
    )

    static let columns: [(key: String, header: String)] = [
        ("name", "NAME"), ("displayName", "DISPLAY NAME"), ("email", "EMAIL"), ("groups", "GROUPS"),
        ("createdAt", "CREATED"),
    ]

    /// `sluice users list`: `GET /api/security/users/list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users and the groups they belong to.")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, "/api/security/users/list")
            }
            if connection.json {
                print(response.text)
                return
            }
            let users = listItems(in: try response.json())
            print(users.isEmpty ? "No users." : Table(objects: users, columns: UsersCommand.columns).render())
        }
    }

    /// `sluice users create NAME`: `POST /api/security/users/create`. The password comes from standard input
    /// (`--password-stdin`) or a prompt that does not echo; it is never an argument.
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a user.",
            discussion: """
                The new user's password is read from standard input with --password-stdin (the first line), or \
                asked for twice at a prompt that does not echo. It needs at least 8 characters.
                """
        )

        @Argument(help: "User name: letters, digits, '.', '_', '-' and '@'.")
        var name: String

        @Option(help: "The name shown for the user.")
        var displayName: String?

        @Option(help: "The user's e-mail address.")
        var email: String?

        @Flag(help: "Read the new user's password from standard input instead of prompting.")
        var passwordStdin = false

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let password = try SecretInput.read(
                fromStandardInput: passwordStdin, prompt: "Password for \(name): ", confirm: true)
            var body: [String: JSONValue] = ["name": .string(name), "password": .string(password)]
            if let displayName { body["displayName"] = .string(displayName) }
            if let email { body["email"] = .string(email) }
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.POST, "/api/security/users/create", jsonValue: .object(body))
            }
            print(connection.json ? response.text : "Created user \(name).")
        }
    }

    /// `sluice users update NAME`: `POST /api/security/users/update/{name}` with the fields given.
    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a user's display name, e-mail or password.",
            discussion: """
                --password-stdin reads the new password from standard input; --change-password asks for it at a \
                prompt that does not echo.
                """
        )

        @Argument(help: "User name.")
        var name: String

        @Option(help: "A new display name.")
        var displayName: String?

        @Option(help: "A new e-mail address.")
        var email: String?

        @Flag(help: "Read a new password from standard input.")
        var passwordStdin = false

        @Flag(help: "Ask for a new password at a prompt.")
        var changePassword = false

        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            if passwordStdin && changePassword {
                throw ValidationError("Pass at most one of --password-stdin and --change-password.")
            }
            if displayName == nil && email == nil && !passwordStdin && !changePassword {
                throw ValidationError(
                    "Nothing to change: pass --display-name, --email, --password-stdin or --change-password.")
            }
        }

        func run() async throws {
            var body: [String: JSONValue] = [:]
            if let displayName { body["displayName"] = .string(displayName) }
            if let email { body["email"] = .string(email) }
            if passwordStdin || changePassword {
                body["password"] = .string(
                    try SecretInput.read(
                        fromStandardInput: passwordStdin, prompt: "New password for \(name): ", confirm: true))
            }
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(
                    .POST, "/api/security/users/update/\(APIClient.encodePath(name))", jsonValue: .object(body))
            }
            print(connection.json ? response.text : "Updated user \(name).")
        }
    }

    /// `sluice users delete NAME`: `DELETE /api/security/users/delete/{name}`.
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a user, with its group memberships, privileges and personal API keys.")

        @Argument(help: "User name.")
        var name: String

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.DELETE, "/api/security/users/delete/\(APIClient.encodePath(name))")
            }
            print(connection.json ? response.text : "Deleted user \(name).")
        }
    }
}

/// Reads secrets (passwords, custom key texts) without echoing them and without taking them as arguments, which
/// would leave them in the shell history and the process list.
enum SecretInput {
    /// The secret from the first line of standard input (`fromStandardInput`), or from a prompt on the terminal
    /// with echo off (asked twice when `confirm`).
    /// - Throws: ``CLIError`` when standard input is empty, when there is no terminal to prompt on, or when the two
    ///   entries differ.
    static func read(fromStandardInput: Bool, prompt: String, confirm: Bool) throws -> String {
        if fromStandardInput {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            let text = String(decoding: data, as: UTF8.self)
            let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let secret = line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
            guard !secret.isEmpty else {
                throw CLIError("Standard input is empty; write the secret on its first line.")
            }
            return secret
        }
        guard isatty(STDIN_FILENO) == 1 else {
            throw CLIError("Standard input is not a terminal, so there is no prompt: pass --password-stdin.")
        }
        let first = try prompted(prompt)
        if confirm {
            let second = try prompted("Repeat: ")
            guard first == second else { throw CLIError("The two entries differ; nothing was changed.") }
        }
        return first
    }

    /// One line read from the terminal with echo off (restored afterwards, also on failure).
    private static func prompted(_ prompt: String) throws -> String {
        FileHandle.standardError.write(Data(prompt.utf8))
        var saved = termios()
        let haveTerminal = tcgetattr(STDIN_FILENO, &saved) == 0
        if haveTerminal {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        }
        defer {
            if haveTerminal { _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved) }
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            throw CLIError("No input; nothing was changed.")
        }
        return line
    }
}
