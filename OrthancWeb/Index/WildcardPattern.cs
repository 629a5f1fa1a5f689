namespace OrthancWeb.Index;

/// <summary>
/// DICOM wildcard matching (PS3.4 C.2.2.2.4): '*' matches any run of characters, including none, and '?' exactly one;
/// every other character matches itself; the whole value must match. In time linear in the value's length whatever
/// the pattern: a regex built from the pattern backtracks, and "*A*A*A*A*A*A*A*B" against a long run of A's took
/// 49 s per value. Parsed once, matched against many values.
/// </summary>
public sealed class WildcardPattern
{
    // The pattern split at its stars: the first piece must match the value's start, the last its end, and those in
    // between anywhere in order. Taking each middle piece at its leftmost place is never wrong (a later piece can only
    // gain room), so there is no backtracking; each piece is searched for with a bit-parallel scan (Shift-And), one
    // pass over the value for all its positions, 64 pattern characters per machine word.
    private readonly Piece[] _pieces;
    private readonly bool _hasStar;
    private readonly bool _ignoreCase;

    public WildcardPattern(string pattern, bool ignoreCase)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        _ignoreCase = ignoreCase;
        _hasStar = pattern.Contains('*');
        _pieces = pattern.Split('*').Select(p => new Piece(ignoreCase ? p.ToUpperInvariant() : p)).ToArray();
    }

    /// <summary>True when the text contains a DICOM wildcard ('*' or '?').</summary>
    public static bool HasWildcards(string text) => text.AsSpan().IndexOfAny('*', '?') >= 0;

    /// <summary>One value against one pattern: for a pattern used once (a routing rule's condition).</summary>
    public static bool IsMatch(string value, string pattern, bool ignoreCase) => new WildcardPattern(pattern, ignoreCase).IsMatch(value);

    public bool IsMatch(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var text = _ignoreCase ? value.ToUpperInvariant() : value;
        var first = _pieces[0];
        if (!_hasStar) return text.Length == first.Length && first.MatchesAt(text, 0);
        var last = _pieces[^1];
        if (text.Length < first.Length + last.Length) return false;
        if (!first.MatchesAt(text, 0) || !last.MatchesAt(text, text.Length - last.Length)) return false;
        var start = first.Length;
        var end = text.Length - last.Length;
        for (var i = 1; i < _pieces.Length - 1; i++)
        {
            var piece = _pieces[i];
            if (piece.Length == 0) continue;
            var at = piece.IndexIn(text, start, end);
            if (at < 0) return false;
            start = at + piece.Length;
        }
        return true;
    }

    /// <summary>A run of the pattern without '*': literal characters and '?'.</summary>
    private sealed class Piece
    {
        private readonly string _text;
        private readonly int _words;
        private readonly Dictionary<char, ulong[]> _masks = [];
        // Positions holding '?', which every character matches.
        private readonly ulong[] _any;

        public Piece(string text)
        {
            _text = text;
            _words = Math.Max(1, (text.Length + 63) / 64);
            _any = new ulong[_words];
            for (var i = 0; i < text.Length; i++)
                if (text[i] == '?') _any[i / 64] |= 1UL << (i % 64);
            for (var i = 0; i < text.Length; i++)
            {
                var c = text[i];
                if (c == '?') continue;
                if (!_masks.TryGetValue(c, out var mask)) _masks[c] = mask = (ulong[])_any.Clone();
                mask[i / 64] |= 1UL << (i % 64);
            }
        }

        public int Length => _text.Length;

        public bool MatchesAt(string text, int at)
        {
            for (var i = 0; i < _text.Length; i++)
                if (_text[i] != '?' && _text[i] != text[at + i]) return false;
            return true;
        }

        /// <summary>The leftmost place in text[start..end) where the piece matches whole, or -1.</summary>
        public int IndexIn(string text, int start, int end)
        {
            if (end - start < _text.Length) return -1;
            // Shift-And: bit j of state is set when the piece's first j+1 characters match ending at the current one.
            var state = new ulong[_words];
            var lastWord = (_text.Length - 1) / 64;
            var lastBit = 1UL << ((_text.Length - 1) % 64);
            for (var i = start; i < end; i++)
            {
                var mask = _masks.TryGetValue(text[i], out var m) ? m : _any;
                ulong carry = 1; // a match may start at every character
                for (var w = 0; w < _words; w++)
                {
                    var shifted = (state[w] << 1) | carry;
                    carry = state[w] >> 63;
                    state[w] = shifted & mask[w];
                }
                if ((state[lastWord] & lastBit) != 0) return i - _text.Length + 1;
            }
            return -1;
        }
    }
}
