import Foundation

/// Turns conda's free-text `license` field into an SPDX ``LicenseExpression``.
///
/// What it understands:
/// - SPDX ids in any case, deprecated forms (`GPL-2.0`, `GPL-2.0+`, `LGPL-2.1`) turned into `-only`/`-or-later`,
///   and `LicenseRef-…` references kept as written;
/// - the spellings seen in real repodata: `BSD 3-Clause`, `BSD_3_clause`, `Modified BSD License (3-clause)`,
///   `Apache License 2.0`, `Apache 2.0`, `ASL 2.0`, `MIT License`, `GPLv3+`, `GNU General Public License v2 or later`,
///   `PSF`, `Public Domain`, …;
/// - R's conventions: `GPL (>= 2)` is `GPL-2.0-or-later`, `Apache License (== 2.0)` is `Apache-2.0`, `GPL-2 | GPL-3`
///   is an `OR`, and `+ file LICENSE` (the file only adds the copyright holder) is dropped;
/// - `and`/`AND`/`&`, `or`/`OR`/`|`, `with`/`WITH`, parentheses; a comma between recognised names is an `AND`.
///
/// Assumptions, written down because the text is ambiguous: a bare `BSD` is `BSD-3-Clause`, a bare `Apache` is
/// `Apache-2.0`, a bare `GPL` (or Fedora's `GPL+`) is `GPL-1.0-or-later` (any version), a bare `LGPL` is
/// `LGPL-2.0-or-later`, `Public Domain` is `LicenseRef-Public-Domain`, `Proprietary`/`Commercial` are
/// `LicenseRef-Proprietary`. Anything else stays ``LicenseExpression/unknown(_:)``.
public enum LicenseNormalizer {
    /// Normalises a record's `license` field (nil when the record has none).
    public static func normalize(_ text: String?) -> NormalizedLicense {
        guard let text else { return NormalizedLicense(original: nil, expression: nil) }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty || noInformation.contains(trimmed.lowercased()) {
            return NormalizedLicense(original: text, expression: nil)
        }
        return NormalizedLicense(original: text, expression: parse(trimmed))
    }

    /// Normalises the record's `license` field.
    public static func normalize(_ record: PackageRecord) -> NormalizedLicense {
        normalize(record.fields["license"]?.stringValue)
    }

    /// Values that mean "nobody said".
    static let noInformation: Set<String> = ["none", "unknown", "noassertion", "n/a", "na", "-", "?", "null"]

    /// Parses an expression (already trimmed and not empty).
    static func parse(_ text: String) -> LicenseExpression {
        var parser = Parser(tokens: tokenize(preprocess(text)))
        let expression = parser.parseOr()
        if parser.position < parser.tokens.count {
            // Unbalanced text after a complete expression: keep it as an unknown operand rather than dropping it.
            let rest = parser.tokens[parser.position...].map(\.text).joined(separator: " ")
            return .and([expression, .unknown(rest)])
        }
        return expression
    }

    // MARK: Preprocessing

    private static func preprocess(_ text: String) -> String {
        var text = text
        // R: "GPL (>= 2)" → "GPL 2+", "Apache License (== 2.0)" → "Apache License 2.0".
        text = replace(#"\(\s*>=\s*([0-9][0-9.]*)\s*\)"#, in: text, with: " $1+")
        text = replace(#"\(\s*==?\s*([0-9][0-9.]*)\s*\)"#, in: text, with: " $1")
        // "v2 or later", "2.0 or any later version", "-or-later" → "+".
        text = replace(#"(?i)[\s,]*\bor\s+(any\s+)?(later|newer|greater)(\s+version)?\b"#, in: text, with: "+")
        text = replace(#"(?i)-or-later\b"#, in: text, with: "+")
        // R: "MIT + file LICENSE": the file names the copyright holder; the licence is MIT.
        text = replace(#"(?i)\s*\+\s*file\s+LICEN[CS]E\b"#, in: text, with: "")
        return text
    }

    private static func replace(_ pattern: String, in text: String, with template: String) -> String {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return text }
        return expression.stringByReplacingMatches(
            in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template)
    }

    // MARK: Tokens and parsing

    struct Token {
        enum Kind { case word, open, close, and, or, with }
        var kind: Kind
        var text: String
    }

    private static func tokenize(_ text: String) -> [Token] {
        var tokens: [Token] = []
        var word = ""
        func flush() {
            guard !word.isEmpty else { return }
            switch word.lowercased() {
            case "and", "&", "&&": tokens.append(Token(kind: .and, text: word))
            case "or", "|", "||": tokens.append(Token(kind: .or, text: word))
            case "with": tokens.append(Token(kind: .with, text: word))
            default: tokens.append(Token(kind: .word, text: word))
            }
            word = ""
        }
        for character in text {
            switch character {
            case "(":
                flush()
                tokens.append(Token(kind: .open, text: "("))
            case ")":
                flush()
                tokens.append(Token(kind: .close, text: ")"))
            case "|", "&":
                if word == String(character) {
                    word.append(character)
                } else {
                    flush()
                    word = String(character)
                }
                flush()
            default:
                if character.isWhitespace {
                    flush()
                } else {
                    word.append(character)
                }
            }
        }
        flush()
        return tokens
    }

    struct Parser {
        let tokens: [Token]
        var position = 0

        init(tokens: [Token]) { self.tokens = tokens }

        private var current: Token? { position < tokens.count ? tokens[position] : nil }

        mutating func parseOr() -> LicenseExpression {
            var operands = [parseAnd()]
            while current?.kind == .or {
                position += 1
                operands.append(parseAnd())
            }
            return operands.count == 1
                ? operands[0] : .or(operands.flatMap { if case .or(let inner) = $0 { inner } else { [$0] } })
        }

        mutating func parseAnd() -> LicenseExpression {
            var operands = [parseWith()]
            while current?.kind == .and {
                position += 1
                operands.append(parseWith())
            }
            return operands.count == 1
                ? operands[0] : .and(operands.flatMap { if case .and(let inner) = $0 { inner } else { [$0] } })
        }

        mutating func parseWith() -> LicenseExpression {
            let license = parsePrimary()
            guard current?.kind == .with else { return license }
            position += 1
            let exception = leafText()
            return .with(license, exception: LicenseNormalizer.exceptionID(exception) ?? exception)
        }

        mutating func parsePrimary() -> LicenseExpression {
            if current?.kind == .open {
                position += 1
                let inner = parseOr()
                if current?.kind == .close { position += 1 }
                return inner
            }
            let text = leafText()
            return text.isEmpty ? .unknown("") : LicenseNormalizer.leaf(text)
        }

        /// Words up to the next operator or unmatched `)`; a `(` after the first word is part of the leaf
        /// (`Modified BSD License (3-clause)`) up to its matching `)`.
        mutating func leafText() -> String {
            var words: [String] = []
            while let token = current {
                switch token.kind {
                case .word:
                    words.append(token.text)
                    position += 1
                case .open where !words.isEmpty:
                    var depth = 0
                    var group: [String] = []
                    while let inner = current {
                        if inner.kind == .open { depth += 1 }
                        if inner.kind == .close { depth -= 1 }
                        group.append(inner.text)
                        position += 1
                        if depth == 0 { break }
                    }
                    words.append(
                        group.joined(separator: " ").replacingOccurrences(of: "( ", with: "(")
                            .replacingOccurrences(of: " )", with: ")"))
                default:
                    return words.joined(separator: " ")
                }
            }
            return words.joined(separator: " ")
        }
    }

    // MARK: Leaves

    /// One licence name: an SPDX id, a `LicenseRef-`, a known spelling, or unknown.
    static func leaf(_ text: String) -> LicenseExpression {
        if let id = licenseID(text) { return .license(id) }
        // "zlib (http://…)", "Modified BSD License (3-clause)": try without, then only, the parenthetical.
        if let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"), open < close {
            let outside = (String(text[..<open]) + String(text[text.index(after: close)...]))
                .trimmingCharacters(in: .whitespaces)
            let inside = String(text[text.index(after: open)..<close])
            if let id = licenseID(outside + " " + inside) ?? licenseID(outside) ?? licenseID(inside) {
                return .license(id)
            }
        }
        // "IJG, modified 3-clause BSD": a comma between recognised names.
        if text.contains(",") {
            let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let ids = parts.compactMap(licenseID)
            if ids.count == parts.count, ids.count > 1 { return .and(ids.map(LicenseExpression.license)) }
        }
        return .unknown(text)
    }

    /// The SPDX id (or `LicenseRef-`) for one licence name, nil when not recognised.
    static func licenseID(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return nil }
        if trimmed.hasPrefix("LicenseRef-") || trimmed.hasPrefix("licenseref-") {
            return "LicenseRef-" + trimmed.dropFirst("LicenseRef-".count)
        }
        let lowered = trimmed.lowercased()
        if let id = spdxIDsByLowercase[lowered] { return id }
        if let id = deprecatedSPDX[lowered] { return id }
        if lowered.hasSuffix("+"), let id = spdxIDsByLowercase[lowered.dropLast() + "-or-later"] { return id }
        let key = squashed(trimmed)
        if let id = spellings[key] { return id }
        return gnuFamily(key)
    }

    /// The SPDX exception id for an exception name, nil when not recognised.
    static func exceptionID(_ text: String) -> String? {
        let lowered = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let id = exceptionIDsByLowercase[lowered] { return id }
        return exceptionIDsBySquashedName[squashed(text)]
    }

    /// A comparison key: lowercase, long names shortened (`gnu general public` → `gpl`), the words `license`,
    /// `the` and `version` dropped, `v` before a version removed, only `[a-z0-9.+]` kept.
    static func squashed(_ text: String) -> String {
        var text =
            " "
            + text.lowercased().replacingOccurrences(of: "licence", with: "license")
            .replacingOccurrences(of: ",", with: " ") + " "
        for (long, short) in phrases {
            text = text.replacingOccurrences(of: long, with: short)
        }
        for word in [" license ", " licensed ", " the ", " version ", " ver ", " agreement ", " terms "] {
            while text.contains(word) { text = text.replacingOccurrences(of: word, with: " ") }
        }
        text = text.replacingOccurrences(of: "-only", with: "")
        var result = ""
        let characters = Array(text)
        for (index, character) in characters.enumerated() {
            guard character.isASCII, character.isLetter || character.isNumber || character == "." || character == "+"
            else { continue }
            // "gplv3", "mpl v2.0", "v2": a "v" right before a version number is dropped.
            if character == "v", index + 1 < characters.count, characters[index + 1].isNumber { continue }
            result.append(character)
        }
        while result.hasSuffix(".") { result.removeLast() }
        return result
    }

    private static let phrases: [(String, String)] = [
        ("gnu lesser general public", "lgpl"), ("lesser general public", "lgpl"),
        ("gnu library general public", "lgpl"), ("library general public", "lgpl"),
        ("gnu affero general public", "agpl"), ("affero general public", "agpl"),
        ("gnu general public", "gpl"), ("general public", "gpl"), ("gnu gpl", "gpl"), ("gnu lgpl", "lgpl"),
        ("mozilla public", "mpl"), ("eclipse public", "epl"), ("python software foundation", "psf"),
        ("apache software", "apache"), ("boost software", "boost"), ("creative commons zero", "cc0"),
        ("sil open font", "ofl"), ("open font", "ofl"), ("public domain", "publicdomain"),
        ("academic free", "afl"), ("common development and distribution", "cddl"),
    ]

    /// `gpl`, `lgpl`, `agpl` with an optional version and `+`.
    private static func gnuFamily(_ key: String) -> String? {
        let families: [(prefix: String, spdx: String, versions: [String: String], bare: String, barePlus: String)] = [
            (
                "agpl", "AGPL", ["1": "1.0", "1.0": "1.0", "3": "3.0", "3.0": "3.0"], "AGPL-3.0-or-later",
                "AGPL-3.0-or-later"
            ),
            (
                "lgpl", "LGPL", ["2": "2.0", "2.0": "2.0", "2.1": "2.1", "3": "3.0", "3.0": "3.0"], "LGPL-2.0-or-later",
                "LGPL-2.0-or-later"
            ),
            (
                "gpl", "GPL", ["1": "1.0", "1.0": "1.0", "2": "2.0", "2.0": "2.0", "3": "3.0", "3.0": "3.0"],
                "GPL-1.0-or-later", "GPL-1.0-or-later"
            ),
        ]
        for family in families where key.hasPrefix(family.prefix) {
            var rest = String(key.dropFirst(family.prefix.count))
            let orLater = rest.hasSuffix("+")
            if orLater { rest.removeLast() }
            if rest.isEmpty { return orLater ? family.barePlus : family.bare }
            guard let version = family.versions[rest] else { return nil }
            return "\(family.spdx)-\(version)-\(orLater ? "or-later" : "only")"
        }
        return nil
    }

    /// Spellings (as ``squashed(_:)`` keys) → SPDX ids.
    static let spellings: [String: String] = {
        var table: [String: String] = [:]
        func add(_ id: String, _ keys: String...) {
            for key in keys { table[key] = id }
        }
        add("MIT", "mit", "expat", "mitx11", "mitexpat")
        add("MIT-0", "mit0", "mitno")
        add(
            "BSD-3-Clause", "bsd", "bsd3", "bsd3clause", "3clausebsd", "newbsd", "bsdnew", "modifiedbsd", "bsdmodified",
            "revisedbsd", "bsdrevised", "bsd3clausenew", "bsd3clauserevised", "modified3clausebsd", "bsdstyle",
            "bsdlike", "3bsd", "modifiedbsd3clause", "bsd3clauselicense", "newbsd3clause")
        add(
            "BSD-2-Clause", "bsd2", "bsd2clause", "2clausebsd", "simplifiedbsd", "bsdsimplified", "freebsd",
            "bsd2clausesimplified", "2bsd")
        add("BSD-4-Clause", "bsd4", "bsd4clause", "4clausebsd", "originalbsd")
        add("0BSD", "0bsd", "zerobsd", "bsdzeroclause", "bsd0clause")
        add("Apache-2.0", "apache", "apache2", "apache2.0", "asl2", "asl2.0", "apache20", "apachev2")
        add("Apache-1.1", "apache1.1", "asl1.1")
        add("Apache-1.0", "apache1", "apache1.0", "asl1.0")
        add("PSF-2.0", "psf", "psf2", "psf2.0", "psfl", "python", "pythonsoftwarefoundation")
        add("Python-2.0", "python2", "python2.0")
        add("ISC", "isc", "iscl")
        add("Zlib", "zlib", "zliblibpng", "zlibpng")
        add("Unlicense", "unlicense", "theunlicense")
        add("CC0-1.0", "cc0", "cc01.0", "cc0universal", "cc01.0universal")
        add("CC-BY-4.0", "ccby4.0", "ccby4")
        add("CC-BY-SA-4.0", "ccbysa4.0", "ccbysa4")
        add("LicenseRef-Public-Domain", "publicdomain", "pd", "publicdomaindedication")
        add("BSL-1.0", "bsl1.0", "bsl", "boost", "boost1.0", "boost1")
        add("MPL-1.0", "mpl1", "mpl1.0")
        add("MPL-1.1", "mpl1.1")
        add("MPL-2.0", "mpl2", "mpl2.0", "mpl")
        add("EPL-1.0", "epl1", "epl1.0")
        add("EPL-2.0", "epl2", "epl2.0", "epl")
        add("CDDL-1.0", "cddl", "cddl1", "cddl1.0")
        add("LPL-1.02", "lucentpublic", "lucentpublic1.02", "lpl1.02")
        add("TCL", "tcl", "tcltk")
        add("OFL-1.1", "ofl", "ofl1.1", "oflv1.1")
        add("Ubuntu-font-1.0", "ubuntufont1.0", "ubuntufont")
        add("wxWindows", "wxwidgets", "wxwindows", "wxwindowslibrary")
        add("libtiff", "libtiff")
        add("IJG", "ijg", "jpeg")
        add("Sleepycat", "sleepycat")
        add("X11", "x11", "mitx")
        add("Ruby", "ruby")
        add("Artistic-1.0-Perl", "artistic", "artistic1", "artistic1.0", "perlartistic")
        add("Artistic-2.0", "artistic2", "artistic2.0")
        add("W3C", "w3c")
        add("FTL", "ftl", "freetype")
        add("OpenSSL", "openssl")
        add("curl", "curl")
        add("PostgreSQL", "postgresql")
        add("NCSA", "ncsa", "uiuc")
        add("WTFPL", "wtfpl")
        add("HPND", "hpnd")
        add("Vim", "vim")
        add("bzip2-1.0.6", "bzip21.0.6", "bzip2")
        add("AFL-2.1", "afl2.1")
        add("AFL-3.0", "afl3.0", "afl3")
        add("EUPL-1.2", "eupl1.2")
        add("LicenseRef-Proprietary", "proprietary", "commercial", "closedsource", "licenserefproprietary")
        return table
    }()

    /// SPDX ids accepted as written (matched case-insensitively).
    static let spdxIDs: [String] = [
        "0BSD", "AFL-2.1", "AFL-3.0", "AGPL-1.0-only", "AGPL-1.0-or-later", "AGPL-3.0-only", "AGPL-3.0-or-later",
        "Apache-1.0", "Apache-1.1", "Apache-2.0", "APSL-2.0", "Artistic-1.0", "Artistic-1.0-Perl", "Artistic-2.0",
        "Beerware", "BlueOak-1.0.0", "BSD-1-Clause", "BSD-2-Clause", "BSD-2-Clause-Patent", "BSD-3-Clause",
        "BSD-3-Clause-Clear", "BSD-3-Clause-LBNL", "BSD-4-Clause", "BSL-1.0", "bzip2-1.0.6", "CC-BY-3.0",
        "CC-BY-4.0", "CC-BY-NC-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC0-1.0", "CDDL-1.0", "CDDL-1.1",
        "CECILL-2.1", "CECILL-B", "CECILL-C", "curl", "ECL-2.0", "EPL-1.0", "EPL-2.0", "EUPL-1.1", "EUPL-1.2",
        "FSFAP", "FSFUL", "FTL", "GFDL-1.3-only", "GFDL-1.3-or-later", "GPL-1.0-only", "GPL-1.0-or-later",
        "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later", "HPND", "ICU", "IJG",
        "ImageMagick", "Intel", "IPA", "ISC", "JasPer-2.0", "LGPL-2.0-only", "LGPL-2.0-or-later", "LGPL-2.1-only",
        "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later", "libpng-2.0", "Libpng", "libtiff",
        "LPL-1.0", "LPL-1.02", "LPPL-1.3c", "MIT", "MIT-0", "MIT-CMU", "MPL-1.0", "MPL-1.1", "MPL-2.0",
        "MPL-2.0-no-copyleft-exception", "MS-PL", "MS-RL", "NCSA", "NLOD-1.0", "NTP", "OFL-1.0", "OFL-1.1",
        "OLDAP-2.8", "OpenSSL", "OSL-3.0", "PHP-3.01", "PostgreSQL", "PSF-2.0", "Python-2.0", "Qhull", "Ruby",
        "SGI-B-2.0", "Sleepycat", "SSPL-1.0", "TCL", "UPL-1.0", "Ubuntu-font-1.0", "Unicode-3.0",
        "Unicode-DFS-2016", "Unlicense", "Vim", "W3C", "WTFPL", "wxWindows", "X11", "XFree86-1.1", "Zlib",
        "zlib-acknowledgement", "ZPL-2.1",
    ]

    static let spdxIDsByLowercase: [String: String] = Dictionary(
        spdxIDs.map { ($0.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })

    /// Deprecated SPDX ids and their current form.
    static let deprecatedSPDX: [String: String] = [
        "gpl-1.0": "GPL-1.0-only", "gpl-1.0+": "GPL-1.0-or-later", "gpl-2.0": "GPL-2.0-only",
        "gpl-2.0+": "GPL-2.0-or-later", "gpl-3.0": "GPL-3.0-only", "gpl-3.0+": "GPL-3.0-or-later",
        "lgpl-2.0": "LGPL-2.0-only", "lgpl-2.0+": "LGPL-2.0-or-later", "lgpl-2.1": "LGPL-2.1-only",
        "lgpl-2.1+": "LGPL-2.1-or-later", "lgpl-3.0": "LGPL-3.0-only", "lgpl-3.0+": "LGPL-3.0-or-later",
        "agpl-3.0": "AGPL-3.0-only", "agpl-3.0+": "AGPL-3.0-or-later", "gfdl-1.3": "GFDL-1.3-only",
        "gfdl-1.3+": "GFDL-1.3-or-later",
    ]

    /// SPDX licence exceptions accepted after `WITH`.
    static let exceptionIDs: [String] = [
        "Autoconf-exception-2.0", "Autoconf-exception-3.0", "Bison-exception-2.2", "Bootloader-exception",
        "Classpath-exception-2.0", "Font-exception-2.0", "GCC-exception-2.0", "GCC-exception-3.1",
        "LLVM-exception", "OCaml-LGPL-linking-exception", "OpenJDK-assembly-exception-1.0",
        "Qt-GPL-exception-1.0", "Qt-LGPL-exception-1.1", "Universal-FOSS-exception-1.0", "WxWindows-exception-3.1",
    ]

    static let exceptionIDsByLowercase: [String: String] = Dictionary(
        exceptionIDs.map { ($0.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })

    static let exceptionIDsBySquashedName: [String: String] = {
        var table: [String: String] = [:]
        for id in exceptionIDs {
            table[squashed(id.replacingOccurrences(of: "-", with: " "))] = id
        }
        table["gccruntimelibraryexception3.1"] = "GCC-exception-3.1"
        table["gccruntimelibraryexception"] = "GCC-exception-3.1"
        table["classpathexception"] = "Classpath-exception-2.0"
        table["llvmexceptions"] = "LLVM-exception"
        return table
    }()
}
