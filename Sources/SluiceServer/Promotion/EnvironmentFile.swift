import Foundation
import SluiceCore
import Yams

/// An environment file that lists conda package files, read for ``PromotionController``'s environment promotion.
///
/// Three formats are understood, told apart by their content:
/// - an explicit file (`conda list --explicit`, with or without `--md5` / `--sha256`): `@EXPLICIT`, then one URL per
///   line, `.../<subdir>/<filename>` with an optional `#<md5>`, `#<sha256>`, `#md5:<hex>` or `#sha256:<hex>`;
/// - a conda-lock file (YAML with a top-level `package:` list whose entries have `url`, `hash: {md5, sha256}` and
///   `manager`; `pip` entries are skipped);
/// - a pixi.lock file (v5/v6: YAML with `version:` and a `packages:` list whose conda entries are `conda: <url>` with
///   `sha256`/`md5`; `pypi:` entries are skipped; v4's `kind: conda` + `url:` entries are read too).
///
/// Every package URL must end in `<subdir>/<filename>` with a conda file name (`.conda` or `.tar.bz2`). The channel
/// part of the URL is ignored: the file is looked up in the source feed by subdir and file name.
struct EnvironmentFile: Sendable {
    /// The file's format.
    enum Format: String, Sendable {
        case explicit
        case condaLock = "conda-lock"
        case pixiLock = "pixi.lock"
    }

    /// One package file the environment needs.
    struct Entry: Sendable, Hashable {
        /// The line of the file it was read from (1-based).
        var line: Int
        var url: String
        var subdir: String
        var filename: String
        var md5: String?
        var sha256: String?
    }

    /// An entry of the file that is not a conda package (a pip/PyPI package), reported and not promoted.
    struct Skipped: Sendable, Hashable {
        var line: Int
        var text: String
        var reason: String
    }

    var format: Format
    var entries: [Entry]
    var skipped: [Skipped]

    /// Parses `text`.
    /// - Throws: `SluiceError.invalidInput` (400) naming the line that is malformed, or saying that the file is none
    ///   of the three formats or lists no package.
    static func parse(_ text: String) throws -> EnvironmentFile {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        let meaningful = lines.lazy.map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        let file: EnvironmentFile
        if let first = meaningful.first, first == "@EXPLICIT" || first.contains("://") {
            file = try parseExplicit(lines)
        } else {
            file = try parseYAML(text)
        }
        guard !file.entries.isEmpty else {
            throw SluiceError.invalidInput("The \(file.format.rawValue) environment file lists no conda package.")
        }
        return file
    }

    // MARK: Explicit

    private static func parseExplicit(_ lines: [Substring]) throws -> EnvironmentFile {
        var entries: [Entry] = []
        for (index, raw) in lines.enumerated() {
            let text = raw.trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.hasPrefix("#") || text == "@EXPLICIT" { continue }
            let number = index + 1
            var url = text
            var md5: String?
            var sha256: String?
            if let hash = text.firstIndex(of: "#") {
                url = String(text[..<hash])
                (md5, sha256) = try checksum(String(text[text.index(after: hash)...]), line: number, text: text)
            }
            entries.append(try entry(url: url, md5: md5, sha256: sha256, line: number))
        }
        return EnvironmentFile(format: .explicit, entries: entries, skipped: [])
    }

    /// The checksum after `#`: 32 hex digits (md5), 64 (sha256), or `md5:`/`sha256:` followed by them.
    private static func checksum(_ fragment: String, line: Int, text: String) throws -> (String?, String?) {
        var value = fragment.lowercased()
        var kind: String?
        for prefix in ["md5:", "sha256:", "md5=", "sha256="] where value.hasPrefix(prefix) {
            kind = String(prefix.dropLast())
            value.removeFirst(prefix.count)
        }
        let isHex = !value.isEmpty && value.allSatisfy(\.isHexDigit)
        switch (kind, value.count) {
        case (nil, 32) where isHex, ("md5", 32) where isHex: return (value, nil)
        case (nil, 64) where isHex, ("sha256", 64) where isHex: return (nil, value)
        default:
            throw SluiceError.invalidInput(
                "Line \(line) ('\(text)'): '#\(fragment)' is not an md5 (32 hex digits) or sha256 (64 hex digits).")
        }
    }

    // MARK: YAML (conda-lock, pixi.lock)

    private static func parseYAML(_ text: String) throws -> EnvironmentFile {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw SluiceError(
                .invalidInput,
                "The environment file is not an explicit file (no @EXPLICIT, no URL lines) and not valid YAML: "
                    + "\(error)",
                cause: error)
        }
        guard let root, root.mapping != nil else {
            throw SluiceError.invalidInput(
                "The environment file is neither an explicit file (@EXPLICIT and package URLs), a conda-lock file "
                    + "(package:) nor a pixi.lock file (packages:).")
        }
        if let packages = root["package"] {
            return try parseCondaLock(packages)
        }
        if let packages = root["packages"], root["version"] != nil {
            return try parsePixiLock(packages)
        }
        throw SluiceError.invalidInput(
            "The YAML environment file has neither a 'package:' list (conda-lock) nor 'version:' and 'packages:' "
                + "(pixi.lock).")
    }

    private static func parseCondaLock(_ packages: Node) throws -> EnvironmentFile {
        guard let list = packages.sequence else {
            throw SluiceError.invalidInput(
                "Line \(line(of: packages)): 'package:' of a conda-lock file must be a list.")
        }
        var entries: [Entry] = []
        var skipped: [Skipped] = []
        for item in list {
            let number = line(of: item)
            guard item.mapping != nil else {
                throw SluiceError.invalidInput("Line \(number): a conda-lock package entry must be a mapping.")
            }
            let manager = item["manager"]?.string ?? "conda"
            let name = item["name"]?.string ?? "?"
            guard manager == "conda" else {
                skipped.append(Skipped(line: number, text: name, reason: "\(manager) package, not a conda file"))
                continue
            }
            guard let url = item["url"]?.string else {
                throw SluiceError.invalidInput("Line \(number): conda-lock package '\(name)' has no 'url'.")
            }
            let hash = item["hash"]
            entries.append(
                try entry(
                    url: url, md5: try hex(hash?["md5"], length: 32, line: number),
                    sha256: try hex(hash?["sha256"], length: 64, line: number), line: number))
        }
        return EnvironmentFile(format: .condaLock, entries: entries, skipped: skipped)
    }

    private static func parsePixiLock(_ packages: Node) throws -> EnvironmentFile {
        guard let list = packages.sequence else {
            throw SluiceError.invalidInput(
                "Line \(line(of: packages)): 'packages:' of a pixi.lock file must be a list.")
        }
        var entries: [Entry] = []
        var skipped: [Skipped] = []
        for item in list {
            let number = line(of: item)
            guard item.mapping != nil else {
                throw SluiceError.invalidInput("Line \(number): a pixi.lock package entry must be a mapping.")
            }
            // v5/v6 name the kind by the URL's key; v4 had `kind:` and `url:`.
            let kind = item["kind"]?.string
            if let url = item["conda"]?.string ?? (kind == "conda" ? item["url"]?.string : nil) {
                entries.append(
                    try entry(
                        url: url, md5: try hex(item["md5"], length: 32, line: number),
                        sha256: try hex(item["sha256"], length: 64, line: number), line: number))
            } else if let url = item["pypi"]?.string ?? (kind == "pypi" ? item["url"]?.string : nil) {
                skipped.append(Skipped(line: number, text: url, reason: "PyPI package, not a conda file"))
            } else {
                throw SluiceError.invalidInput(
                    "Line \(number): a pixi.lock package entry has neither 'conda:' nor 'pypi:'.")
            }
        }
        return EnvironmentFile(format: .pixiLock, entries: entries, skipped: skipped)
    }

    private static func line(of node: Node) -> Int {
        node.mark?.line ?? 0
    }

    private static func hex(_ node: Node?, length: Int, line: Int) throws -> String? {
        guard let node else { return nil }
        guard let text = node.string?.lowercased(), text.count == length, text.allSatisfy(\.isHexDigit) else {
            throw SluiceError.invalidInput(
                "Line \(line): '\(node.string ?? "")' is not a checksum of \(length) hex digits.")
        }
        return text
    }

    // MARK: URLs

    /// The entry of a package URL: its last two path components are the subdir and the conda file name.
    private static func entry(url: String, md5: String?, sha256: String?, line: Int) throws -> Entry {
        let trimmed = url.trimmingCharacters(in: .whitespaces)
        guard let parsed = URL(string: trimmed), let scheme = parsed.scheme,
            ["http", "https", "file"].contains(scheme.lowercased())
        else {
            throw SluiceError.invalidInput("Line \(line) ('\(trimmed)'): not a package URL (http, https or file).")
        }
        let components = parsed.path.split(separator: "/").map { $0.removingPercentEncoding ?? String($0) }
        guard components.count >= 2, PackageFilename(components[components.count - 1]) != nil else {
            throw SluiceError.invalidInput(
                "Line \(line) ('\(trimmed)'): the URL does not end in <subdir>/<name>-<version>-<build>.conda "
                    + "or .tar.bz2.")
        }
        return Entry(
            line: line, url: trimmed, subdir: components[components.count - 2],
            filename: components[components.count - 1], md5: md5, sha256: sha256)
    }
}
