import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import SluiceCore

/// `sluice vulnerabilities ...`: OSV advisories on the server, through `/api/compliance/advisories*`.
struct VulnerabilitiesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vulnerabilities",
        abstract: "Import OSV vulnerability advisories and show what the server holds.",
        subcommands: [Import.self, Status.self, List.self]
    )

    /// `sluice vulnerabilities import PATH`: `POST /api/compliance/advisories/import` (requires Administer).
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import OSV advisories from a JSON file, a directory of JSON files, or a zip of them.",
            discussion: """
                A file is sent as it is (JSON, or a zip such as https://osv-vulnerabilities.storage.googleapis.com/\
                PyPI/all.zip). A directory is read here (every *.json below it; malformed files are skipped and \
                listed) and sent as one JSON array, so the server records one import.
                """)

        @Argument(help: "An OSV JSON file, a directory of them, or a zip.")
        var path: String

        @Option(help: "How the import is named in the history (default: the path).")
        var source: String?

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let url = URL(fileURLWithPath: path)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                throw CLIError("There is no file or directory at \(path).")
            }
            let body: [UInt8]
            let contentType: String
            var skippedHere: [String] = []
            if isDirectory.boolValue {
                let result = try OSVImport.load(from: url)
                skippedHere = result.skipped.map { "\($0.source): \($0.reason)" }
                guard !result.advisories.isEmpty else {
                    throw CLIError("No OSV advisories found under \(path).")
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.withoutEscapingSlashes]
                encoder.dateEncodingStrategy = .iso8601
                body = Array(try encoder.encode(result.advisories))
                contentType = "application/json"
            } else {
                body = Array(try Data(contentsOf: url))
                let isZip = body.starts(with: [0x50, 0x4B, 0x03, 0x04]) || body.starts(with: [0x50, 0x4B, 0x05, 0x06])
                contentType = isZip ? "application/zip" : "application/json"
            }
            let name = source ?? url.path
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                var request = client.request(
                    .POST, "/api/compliance/advisories/import", query: [("source", name)])
                request.headers.add(name: "Content-Type", value: contentType)
                request.body = .bytes(ByteBuffer(bytes: body))
                return try await client.execute(request)
            }
            if connection.json {
                print(response.text)
                return
            }
            let summary = try response.json()
            let record = summary["record"]
            func count(_ key: String) -> Int64 { record?[key]?.intValue ?? 0 }
            print(
                "Imported from \(name): \(count("added")) added, \(count("updated")) updated, "
                    + "\(count("unchanged")) unchanged, \(count("skipped") + Int64(skippedHere.count)) skipped.")
            for skipped in skippedHere + (summary["skippedFiles"]?.arrayValue?.compactMap(\.stringValue) ?? []) {
                print("  skipped \(skipped)")
            }
            printChanges(summary["changes"])
        }
    }

    /// `sluice vulnerabilities status`: `GET /api/compliance/advisories/status`.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show how many advisories are held and the last imports.")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, "/api/compliance/advisories/status")
            }
            if connection.json {
                print(response.text)
                return
            }
            let status = try response.json()
            print("Advisories: \(status["count"]?.intValue ?? 0)")
            let imports = status["imports"]?.arrayValue ?? []
            if imports.isEmpty {
                print("No imports yet.")
            } else {
                print(
                    Table(
                        objects: imports,
                        columns: [
                            ("id", "ID"), ("importedAt", "IMPORTED"), ("source", "SOURCE"), ("importedBy", "BY"),
                            ("added", "ADDED"), ("updated", "UPDATED"), ("unchanged", "UNCHANGED"),
                            ("skipped", "SKIPPED"),
                        ]
                    ).render())
            }
        }
    }

    /// `sluice vulnerabilities list [--query TEXT]`: `GET /api/compliance/advisories`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List advisories, optionally matching a text.")

        @Option(help: "Only advisories whose id, alias (CVE), package name or summary contains this text.")
        var query: String?

        @Option(help: "At most this many advisories (default 1000).")
        var limit: Int?

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            var parameters: [(String, String)] = []
            if let query { parameters.append(("q", query)) }
            if let limit { parameters.append(("limit", String(limit))) }
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, "/api/compliance/advisories", query: parameters)
            }
            if connection.json {
                print(response.text)
                return
            }
            let items = listItems(in: try response.json()).map { item -> JSONValue in
                guard case .object(var fields) = item else { return item }
                fields["packages"] = .string(
                    (item["affected"]?.arrayValue ?? []).map { entry in
                        let fixed = entry["fixed"]?.arrayValue?.compactMap(\.stringValue) ?? []
                        return "\(entry["ecosystem"]?.stringValue ?? ""):\(entry["name"]?.stringValue ?? "")"
                            + (fixed.isEmpty ? "" : " (fixed \(fixed.joined(separator: ", ")))")
                    }.joined(separator: "; "))
                return .object(fields)
            }
            print(
                items.isEmpty
                    ? "No advisories."
                    : Table(
                        objects: items,
                        columns: [
                            ("id", "ID"), ("aliases", "ALIASES"), ("severity", "SEVERITY"), ("score", "SCORE"),
                            ("packages", "PACKAGES"), ("summary", "SUMMARY"),
                        ]
                    ).render())
        }
    }
}

/// Prints the `changes` of a compliance change: the files that became blocked or unblocked.
func printChanges(_ changes: JSONValue?) {
    let blocked = changes?["blocked"]?.arrayValue?.compactMap(\.stringValue) ?? []
    let unblocked = changes?["unblocked"]?.arrayValue?.compactMap(\.stringValue) ?? []
    for file in blocked { print("  now blocked: \(file)") }
    for file in unblocked { print("  no longer blocked: \(file)") }
}
