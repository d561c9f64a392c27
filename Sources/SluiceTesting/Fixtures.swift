import Foundation

/// Paths to the shared conda fixtures (`../shared/fixtures` next to the repository).
///
/// Set `SLUICE_FIXTURES` to point elsewhere.
public enum Fixtures {
    /// The fixtures folder: `$SLUICE_FIXTURES`, else `<repo>/../shared/fixtures`.
    public static let root: URL = {
        if let path = ProcessInfo.processInfo.environment["SLUICE_FIXTURES"] {
            return URL(fileURLWithPath: path, isDirectory: true)
        }
        // Sources/SluiceTesting/Fixtures.swift -> repository root -> ../shared/fixtures
        let repository = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return repository.deletingLastPathComponent().appendingPathComponent("shared/fixtures", isDirectory: true)
    }()

    /// `packages/<group>/<file>` under the fixtures.
    public static func package(_ group: String, _ file: String) -> URL {
        root.appendingPathComponent("packages/\(group)/\(file)")
    }

    /// Every package file under `packages/`, except the `edge-cases` group (which clashes with the others on purpose).
    public static func allPackages(includingEdgeCases: Bool = false) throws -> [URL] {
        let packagesRoot = root.appendingPathComponent("packages", isDirectory: true)
        var result: [URL] = []
        for group in try FileManager.default.contentsOfDirectory(atPath: packagesRoot.path).sorted() {
            if group == "edge-cases" && !includingEdgeCases { continue }
            let folder = packagesRoot.appendingPathComponent(group, isDirectory: true)
            for file in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
            where file.hasSuffix(".conda") || file.hasSuffix(".tar.bz2") {
                result.append(folder.appendingPathComponent(file))
            }
        }
        return result
    }

    /// `repodata/<relative path>` under the fixtures.
    public static func repodata(_ relativePath: String) -> URL {
        root.appendingPathComponent("repodata/\(relativePath)")
    }

    /// `channels/conda-format-repo`, a complete small real channel.
    public static var condaFormatRepo: URL {
        root.appendingPathComponent("channels/conda-format-repo", isDirectory: true)
    }
}
