package fluxj.text;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Special-token strings honoured in the input text, as HF's slow tokenizers do: the text is cut around every
 * occurrence (leftmost, then longest), a token with {@code lstrip}/{@code rstrip} eats the Python whitespace
 * on that side of it, and the pieces left empty are dropped.
 */
final class AddedTokens {
    /** How one special-token string behaves. */
    record Token(int id, boolean lstrip, boolean rstrip) {}

    /** A run of plain text ({@code specialId < 0}) or one special token. */
    record Chunk(String text, int specialId) {
        boolean special() { return specialId >= 0; }
    }

    private final Map<String, Token> tokens;
    private final int maxLength;
    private final String firstChars;

    AddedTokens(Map<String, Token> tokens) {
        this.tokens = Map.copyOf(tokens);
        this.maxLength = tokens.keySet().stream().mapToInt(String::length).max().orElse(0);
        StringBuilder first = new StringBuilder();
        for (String t : tokens.keySet()) if (!t.isEmpty() && first.indexOf(t.substring(0, 1)) < 0) first.append(t.charAt(0));
        this.firstChars = first.toString();
    }

    List<Chunk> split(String text) {
        List<String> parts = new ArrayList<>();
        List<Token> kinds = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < text.length(); i++) {
            String match = longestAt(text, i);
            if (match == null) continue;
            if (i > start) {
                parts.add(text.substring(start, i));
                kinds.add(null);
            }
            parts.add(match);
            kinds.add(tokens.get(match));
            i += match.length() - 1;
            start = i + 1;
        }
        if (start < text.length()) {
            parts.add(text.substring(start));
            kinds.add(null);
        }
        // In place and in order, like the reference: a neighbour already stripped is stripped again.
        for (int i = 0; i < parts.size(); i++) {
            Token t = kinds.get(i);
            if (t == null) continue;
            if (t.rstrip() && i + 1 < parts.size()) parts.set(i + 1, PyText.lstrip(parts.get(i + 1)));
            if (t.lstrip() && i > 0) parts.set(i - 1, PyText.rstrip(parts.get(i - 1)));
        }
        List<Chunk> out = new ArrayList<>(parts.size());
        for (int i = 0; i < parts.size(); i++) {
            String p = parts.get(i);
            if (p.isEmpty()) continue;
            Token t = kinds.get(i);
            out.add(new Chunk(p, t == null ? -1 : t.id()));
        }
        return out;
    }

    private String longestAt(String text, int i) {
        if (firstChars.indexOf(text.charAt(i)) < 0) return null;
        String best = null;
        int limit = Math.min(maxLength, text.length() - i);
        for (int len = 1; len <= limit; len++) {
            String candidate = text.substring(i, i + len);
            if (tokens.containsKey(candidate)) best = candidate;
        }
        return best;
    }
}
