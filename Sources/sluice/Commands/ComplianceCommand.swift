import ArgumentParser
import Foundation
import SluiceCore

/// `sluice compliance ...`: package compliance, policies, blocking, exceptions and name mappings through
/// `/api/compliance/*`. Reads need View on the feed; changes need Administer.
struct ComplianceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compliance",
        abstract: "Show package compliance and manage policies, blocking, exceptions and name mappings.",
        subcommands: [
            Show.self, Noncompliant.self, Policy.self, FeedPolicy.self, Blocking.self, Exceptions.self,
            Mappings.self,
        ]
    )

    static func path(_ segments: String...) -> String {
        "/api/compliance/" + segments.map(APIClient.encodePath).joined(separator: "/")
    }

    /// One line per verdict: file, outcome, and the reasons of the rules that are not compliant.
    static func render(verdicts: [JSONValue]) -> String {
        var lines: [String] = []
        for verdict in verdicts {
            let file = "\(verdict["subdir"]?.stringValue ?? "")/\(verdict["filename"]?.stringValue ?? "")"
            var outcome = verdict["outcome"]?.stringValue ?? "?"
            if verdict["exception"]?.objectValue != nil {
                outcome += " (exception: \(verdict["exception"]?["reason"]?.stringValue ?? ""))"
            }
            if verdict["blocked"]?.boolValue == true { outcome += ", blocked" }
            lines.append("\(file): \(outcome)")
            let license = verdict["license"]
            lines.append(
                "  license: \(license?["original"]?.stringValue ?? "(none)") → "
                    + (license?["spdx"]?.stringValue ?? "not recognised"))
            for finding in verdict["vulnerabilities"]?.arrayValue ?? [] {
                let ids = (finding["advisoryIDs"]?.arrayValue ?? []).compactMap(\.stringValue)
                let aliases = (finding["aliases"]?.arrayValue ?? []).compactMap(\.stringValue)
                let fixed = (finding["fixedVersions"]?.arrayValue ?? []).compactMap(\.stringValue)
                var line = "  advisory: \(ids.joined(separator: " / "))"
                if !aliases.isEmpty { line += " (\(aliases.joined(separator: ", ")))" }
                line += ", severity \(finding["severity"]?.stringValue ?? "unknown")"
                if let score = finding["cvssScore"], score != .null { line += " \(Table.display(score))" }
                line += fixed.isEmpty ? ", no fix known" : ", fixed in \(fixed.joined(separator: ", "))"
                lines.append(line)
            }
            for result in verdict["results"]?.arrayValue ?? [] where result["outcome"]?.stringValue != "compliant" {
                lines.append("  \(result["outcome"]?.stringValue ?? ""): \(result["reason"]?.stringValue ?? "")")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// `sluice compliance show FEED NAME [--version V]`: `GET /api/compliance/packages/{feed}/{name}`.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the compliance of a package: advisories, licence and rule results per build.")

        @Argument(help: "The feed.") var feed: String
        @Argument(help: "The package name.") var name: String
        @Option(help: "Only this version.") var version: String?
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(
                    .GET, ComplianceCommand.path("packages", feed, name), query: version.map { [("version", $0)] } ?? []
                )
            }
            if connection.json {
                print(response.text)
                return
            }
            print(ComplianceCommand.render(verdicts: try response.json()["builds"]?.arrayValue ?? []))
        }
    }

    /// `sluice compliance noncompliant FEED`: `GET /api/compliance/feeds/{feed}/noncompliant`.
    struct Noncompliant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the noncompliant packages of a feed.")

        @Argument(help: "The feed.") var feed: String
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, ComplianceCommand.path("feeds", feed, "noncompliant"))
            }
            if connection.json {
                print(response.text)
                return
            }
            let value = try response.json()
            let packages = value["packages"]?.arrayValue ?? []
            print("Feed \(feed): blocking is \(value["blocking"]?.boolValue == true ? "on" : "off").")
            print(packages.isEmpty ? "No noncompliant packages." : ComplianceCommand.render(verdicts: packages))
        }
    }

    /// Policy fields shared by `policy set` and `feed-policy set`.
    struct PolicyOptions: ParsableArguments {
        @Option(help: "Severity from which advisories make a package noncompliant: low, medium, high, critical, never.")
        var noncompliantAt: String?
        @Option(help: "Severity from which advisories warn: low, medium, high, critical, never.")
        var warnAt: String?
        @Option(help: "Outcome of an advisory without severity: compliant, warn, noncompliant.")
        var unknownSeverity: String?
        @Option(
            name: .customLong("allow-license"),
            help: ArgumentHelp("An allowed SPDX id (repeat); with any, others are not allowed.", valueName: "spdx"))
        var allowedLicenses: [String] = []
        @Option(
            name: .customLong("block-license"), help: ArgumentHelp("A blocked SPDX id (repeat).", valueName: "spdx"))
        var blockedLicenses: [String] = []
        @Option(help: "Outcome of a licence not on the allow list: compliant, warn, noncompliant.")
        var notAllowedLicense: String?
        @Option(help: "Outcome of a missing or unrecognised licence: compliant, warn, noncompliant.")
        var unknownLicense: String?

        var body: JSONValue {
            var fields: [String: JSONValue] = [:]
            if let noncompliantAt { fields["vulnerabilityNoncompliantAt"] = .string(noncompliantAt) }
            if let warnAt { fields["vulnerabilityWarnAt"] = .string(warnAt) }
            if let unknownSeverity { fields["unknownSeverityOutcome"] = .string(unknownSeverity) }
            if !allowedLicenses.isEmpty { fields["allowedLicenses"] = .array(allowedLicenses.map(JSONValue.string)) }
            if !blockedLicenses.isEmpty { fields["blockedLicenses"] = .array(blockedLicenses.map(JSONValue.string)) }
            if let notAllowedLicense { fields["notAllowedLicenseOutcome"] = .string(notAllowedLicense) }
            if let unknownLicense { fields["unknownLicenseOutcome"] = .string(unknownLicense) }
            return .object(fields)
        }
    }

    /// `sluice compliance policy show|set`: the global policy, `GET|PUT /api/compliance/policy`.
    struct Policy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show or replace the global compliance policy.", subcommands: [PolicyShow.self, PolicySet.self])
    }

    struct PolicyShow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show the global policy.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, "/api/compliance/policy")
            }
            let value = try response.json()
            print(connection.json ? response.text : renderDetails(value["resolved"] ?? .null, preferredOrder: []))
        }
    }

    struct PolicySet: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set", abstract: "Replace the global policy (options not given take their defaults).")
        @OptionGroup var policy: PolicyOptions
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.PUT, "/api/compliance/policy", jsonValue: policy.body)
            }
            if connection.json {
                print(response.text)
                return
            }
            print("Global policy set.")
            printChanges(try response.json()["changes"])
        }
    }

    /// `sluice compliance feed-policy show|set|delete FEED`: `/api/compliance/feeds/{feed}/policy`.
    struct FeedPolicy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "feed-policy", abstract: "Show, set or remove a feed's own policy.",
            subcommands: [FeedPolicyShow.self, FeedPolicySet.self, FeedPolicyDelete.self])
    }

    struct FeedPolicyShow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Show the policy in effect for a feed.")
        @Argument(help: "The feed.") var feed: String
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, ComplianceCommand.path("feeds", feed, "policy"))
            }
            let value = try response.json()
            if connection.json {
                print(response.text)
                return
            }
            print(
                "Feed \(feed): \(value["policy"] == .null ? "follows the global policy" : "has its own policy"); "
                    + "blocking is \(value["blocking"]?.boolValue == true ? "on" : "off").")
            print(renderDetails(value["resolved"] ?? .null, preferredOrder: []))
        }
    }

    struct FeedPolicySet: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set", abstract: "Set a feed's policy (options not given inherit the global policy).")
        @Argument(help: "The feed.") var feed: String
        @OptionGroup var policy: PolicyOptions
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.PUT, ComplianceCommand.path("feeds", feed, "policy"), jsonValue: policy.body)
            }
            if connection.json {
                print(response.text)
                return
            }
            print("Policy of feed \(feed) set.")
            printChanges(try response.json()["changes"])
        }
    }

    struct FeedPolicyDelete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete", abstract: "Remove a feed's policy: it follows the global one again.")
        @Argument(help: "The feed.") var feed: String
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.DELETE, ComplianceCommand.path("feeds", feed, "policy"))
            }
            if connection.json {
                print(response.text)
                return
            }
            print("Feed \(feed) follows the global policy.")
            printChanges(try response.json()["changes"])
        }
    }

    /// `sluice compliance blocking FEED on|off`: `POST /api/compliance/feeds/{feed}/blocking`.
    struct Blocking: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Turn \"block noncompliant packages\" on or off for a feed (or show it).")
        @Argument(help: "The feed.") var feed: String
        @Argument(help: "on or off; omit to show the current state.") var state: String?
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let enabled: Bool?
            switch state?.lowercased() {
            case nil: enabled = nil
            case "on", "true", "yes": enabled = true
            case "off", "false", "no": enabled = false
            default: throw ValidationError("The state must be on or off.")
            }
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                if let enabled {
                    return try await client.send(
                        .POST, ComplianceCommand.path("feeds", feed, "blocking"),
                        jsonValue: .object(["enabled": .bool(enabled)]))
                }
                return try await client.send(.GET, ComplianceCommand.path("feeds", feed, "blocking"))
            }
            if connection.json {
                print(response.text)
                return
            }
            let value = try response.json()
            print(
                "Blocking of noncompliant packages in \(feed) is \(value["enabled"]?.boolValue == true ? "on" : "off")."
            )
            printChanges(value["changes"])
        }
    }

    /// `sluice compliance exceptions list|add|delete`: `/api/compliance/exceptions*`.
    struct Exceptions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List, add and delete exceptions (packages compliant whatever the rules say).",
            subcommands: [ExceptionsList.self, ExceptionsAdd.self, ExceptionsDelete.self])
    }

    struct ExceptionsList: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the exceptions.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, "/api/compliance/exceptions")
            }
            if connection.json {
                print(response.text)
                return
            }
            let items = listItems(in: try response.json())
            print(
                items.isEmpty
                    ? "No exceptions."
                    : Table(
                        objects: items,
                        columns: [
                            ("id", "ID"), ("packagePattern", "PACKAGE"), ("versionSpec", "VERSIONS"), ("feed", "FEED"),
                            ("reason", "REASON"), ("expiresAt", "EXPIRES"), ("expired", "EXPIRED"),
                            ("createdBy", "BY"),
                        ]
                    ).render())
        }
    }

    struct ExceptionsAdd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Add an exception for a package name pattern and version range.")
        @Argument(help: "A package name or glob pattern, e.g. flask or py*.") var package: String
        @Option(help: "A conda version spec, e.g. '<0.12.3' or '0.11.*' (default every version).") var version: String?
        @Option(help: "Only this feed (default every feed).") var feed: String?
        @Option(help: "Why the exception is granted.") var reason: String
        @Option(help: "When it stops applying (ISO 8601, e.g. 2027-01-31).") var expires: String?
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            var body: [String: JSONValue] = ["package": .string(package), "reason": .string(reason)]
            if let version { body["versions"] = .string(version) }
            if let feed { body["feed"] = .string(feed) }
            if let expires { body["expires"] = .string(expires) }
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.POST, "/api/compliance/exceptions/create", jsonValue: .object(body))
            }
            if connection.json {
                print(response.text)
                return
            }
            let value = try response.json()
            print("Added exception \(value["exception"]?["id"]?.intValue ?? 0) for \(package).")
            printChanges(value["changes"])
        }
    }

    struct ExceptionsDelete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete an exception.")
        @Argument(help: "The exception id (see `sluice compliance exceptions list`).") var id: Int64
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.POST, ComplianceCommand.path("exceptions", "delete", String(id)))
            }
            if connection.json {
                print(response.text)
                return
            }
            print("Deleted exception \(id).")
            printChanges(try response.json()["changes"])
        }
    }

    /// `sluice compliance mappings list|add|delete`: PyPI → conda names, `/api/compliance/mappings*`.
    struct Mappings: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List, add and delete PyPI → conda package name mappings used to match advisories.",
            subcommands: [MappingsList.self, MappingsAdd.self, MappingsDelete.self])
    }

    struct MappingsList: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the mappings.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, "/api/compliance/mappings")
            }
            if connection.json {
                print(response.text)
                return
            }
            let items = listItems(in: try response.json())
            print(
                items.isEmpty
                    ? "No mappings."
                    : Table(objects: items, columns: [("pypiName", "PYPI"), ("condaName", "CONDA")]).render())
        }
    }

    struct MappingsAdd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Map a PyPI name to a conda name.")
        @Argument(help: "The PyPI package name.") var pypiName: String
        @Argument(help: "The conda package name.") var condaName: String
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(
                    .POST, "/api/compliance/mappings/add",
                    jsonValue: .object(["pypiName": .string(pypiName), "condaName": .string(condaName)]))
            }
            if connection.json {
                print(response.text)
                return
            }
            print("PyPI \(pypiName) now maps to conda \(condaName).")
            printChanges(try response.json()["changes"])
        }
    }

    struct MappingsDelete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Remove a mapping.")
        @Argument(help: "The PyPI package name.") var pypiName: String
        @Argument(help: "The conda package name.") var condaName: String
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(
                    .POST, "/api/compliance/mappings/delete",
                    jsonValue: .object(["pypiName": .string(pypiName), "condaName": .string(condaName)]))
            }
            if connection.json {
                print(response.text)
                return
            }
            print("Removed the mapping of \(pypiName) to \(condaName).")
            printChanges(try response.json()["changes"])
        }
    }
}
