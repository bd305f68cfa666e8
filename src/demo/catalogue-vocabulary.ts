/**
 * The fixed vocabulary of the synthetic storefront: departments → subcategories → leaves, with
 * the words that titles and descriptions are built from. Static data only; `category-tree.ts`
 * turns it into the indexed tree the generator samples from.
 */

export interface LeafSpec {
  name: string;
  /** Median price in the catalogue currency; prices are log-normal around it. */
  medianPrice: number;
  /** Product nouns, singular (`mug`, `travel mug`). */
  nouns: readonly string[];
  /** Consumables: bought again and again (`Item.repurchasable`). */
  consumable: boolean;
}

export interface SubcategorySpec {
  name: string;
  leaves: readonly LeafSpec[];
}

export interface DepartmentSpec {
  name: string;
  /** Relative share of shoppers' attention. */
  popularity: number;
  adjectives: readonly string[];
  /** Phrases such as `with a soft-touch finish`, used in descriptions. */
  features: readonly string[];
  /** Phrases such as `everyday use`, used as `Ideal for …`. */
  uses: readonly string[];
  /** One item attribute, e.g. `colour`, with its possible values. */
  attribute: { key: string; values: readonly (string | number)[] };
  subcategories: readonly SubcategorySpec[];
}

/** `leaf('Mugs', 12, 'mug|travel mug|cup')`; a trailing `*` on the name marks a consumable. */
function leaf(name: string, medianPrice: number, nouns: string): LeafSpec {
  const consumable = name.endsWith('*');
  return { name: consumable ? name.slice(0, -1) : name, medianPrice, nouns: nouns.split('|'), consumable };
}

function sub(name: string, ...leaves: LeafSpec[]): SubcategorySpec {
  return { name, leaves };
}

const COLOURS = ['black', 'white', 'grey', 'navy', 'sage', 'terracotta', 'mustard', 'blush', 'teal', 'oat'];

export const DEPARTMENTS: readonly DepartmentSpec[] = [
  {
    name: 'Home',
    popularity: 1.4,
    adjectives: ['rustic', 'minimalist', 'handmade', 'nordic', 'vintage', 'modern', 'cosy', 'artisan'],
    features: [
      'with a matte glaze',
      'made from recycled materials',
      'with a soft-touch finish',
      'dishwasher safe',
      'designed in small batches',
      'with a timeless silhouette',
    ],
    uses: ['everyday use', 'slow mornings', 'gifting', 'small apartments'],
    attribute: { key: 'colour', values: COLOURS },
    subcategories: [
      sub(
        'Kitchen',
        leaf('Mugs', 14, 'mug|travel mug|espresso cup|tumbler'),
        leaf('Cookware', 45, 'frying pan|saucepan|casserole dish|wok'),
        leaf('Knives', 38, 'chef knife|paring knife|bread knife|knife set'),
        leaf('Storage Jars', 12, 'storage jar|canister|spice jar'),
      ),
      sub(
        'Bedroom',
        leaf('Bedding', 60, 'duvet cover|sheet set|pillowcase pair'),
        leaf('Pillows', 30, 'pillow|memory foam pillow|body pillow'),
        leaf('Lamps', 42, 'bedside lamp|reading lamp|table lamp'),
      ),
      sub(
        'Living Room',
        leaf('Cushions', 22, 'cushion|floor cushion|bolster'),
        leaf('Rugs', 85, 'rug|runner|shaggy rug'),
        leaf('Vases', 25, 'vase|bud vase|planter'),
      ),
      sub(
        'Bathroom',
        leaf('Towels', 18, 'bath towel|hand towel|towel set'),
        leaf('Bath Mats', 16, 'bath mat|shower mat'),
        leaf('Soap Dispensers', 12, 'soap dispenser|soap dish'),
      ),
      sub(
        'Cleaning',
        leaf('Detergents*', 8, 'laundry detergent|washing-up liquid|surface spray'),
        leaf('Sponges*', 4, 'sponge pack|scrub brush|microfibre cloth'),
        leaf('Bin Bags*', 5, 'bin bag roll|compostable bag roll'),
      ),
    ],
  },
  {
    name: 'Electronics',
    popularity: 1.2,
    adjectives: ['wireless', 'compact', 'pro', 'ultra-slim', 'smart', 'rugged', 'high-fidelity', 'portable'],
    features: [
      'with 30-hour battery life',
      'with USB-C charging',
      'with active noise cancelling',
      'with a two-year warranty',
      'with Bluetooth 5.3',
      'with a braided cable',
    ],
    uses: ['commuting', 'the home office', 'travel', 'gaming'],
    attribute: { key: 'colour', values: ['black', 'white', 'silver', 'graphite', 'blue'] },
    subcategories: [
      sub(
        'Audio',
        leaf('Headphones', 120, 'over-ear headphones|on-ear headphones|studio headphones'),
        leaf('Speakers', 90, 'bluetooth speaker|smart speaker|soundbar'),
        leaf('Earbuds', 70, 'earbuds|sport earbuds|true wireless earbuds'),
      ),
      sub(
        'Computing',
        leaf('Keyboards', 65, 'mechanical keyboard|keyboard|numeric keypad'),
        leaf('Mice', 35, 'mouse|trackball|vertical mouse'),
        leaf('Monitors', 260, 'monitor|ultrawide monitor|portable monitor'),
      ),
      sub(
        'Phones',
        leaf('Cases', 20, 'phone case|wallet case|bumper case'),
        leaf('Chargers', 25, 'wall charger|wireless charger|power bank'),
        leaf('Cables', 12, 'charging cable|USB-C cable|lightning cable'),
      ),
      sub(
        'Cameras',
        leaf('Lenses', 380, 'prime lens|zoom lens|macro lens'),
        leaf('Tripods', 55, 'tripod|travel tripod|gimbal'),
        leaf('Memory Cards', 22, 'SD card|microSD card|card reader'),
      ),
    ],
  },
  {
    name: 'Fashion',
    popularity: 1.5,
    adjectives: [
      'oversized',
      'tailored',
      'organic cotton',
      'linen',
      'classic',
      'relaxed-fit',
      'cropped',
      'wool-blend',
    ],
    features: [
      'with a relaxed cut',
      'made from organic cotton',
      'with reinforced seams',
      'machine washable',
      'with hidden pockets',
      'in a timeless cut',
    ],
    uses: ['weekends', 'the office', 'evenings out', 'layering'],
    attribute: { key: 'size', values: ['XS', 'S', 'M', 'L', 'XL'] },
    subcategories: [
      sub(
        'Women',
        leaf('Dresses', 55, 'midi dress|wrap dress|shirt dress|maxi dress'),
        leaf('Tops', 28, 'blouse|t-shirt|camisole|knit top'),
        leaf('Skirts', 40, 'pleated skirt|denim skirt|midi skirt'),
      ),
      sub(
        'Men',
        leaf('Shirts', 38, 'oxford shirt|flannel shirt|linen shirt'),
        leaf('Trousers', 50, 'chinos|cargo trousers|wool trousers'),
        leaf('Jackets', 110, 'bomber jacket|denim jacket|rain jacket'),
      ),
      sub(
        'Shoes',
        leaf('Trainers', 80, 'trainers|canvas sneakers|court shoes'),
        leaf('Boots', 120, 'chelsea boots|hiking boots|ankle boots'),
        leaf('Sandals', 45, 'sandals|slides|espadrilles'),
      ),
      sub(
        'Accessories',
        leaf('Bags', 70, 'tote bag|backpack|crossbody bag'),
        leaf('Scarves', 25, 'scarf|wool scarf|silk scarf'),
        leaf('Watches', 150, 'watch|chronograph|field watch'),
        leaf('Sunglasses', 60, 'sunglasses|aviators|round sunglasses'),
      ),
    ],
  },
  {
    name: 'Beauty',
    popularity: 1.0,
    adjectives: [
      'hydrating',
      'fragrance-free',
      'vegan',
      'gentle',
      'radiance',
      'clarifying',
      'nourishing',
      'botanical',
    ],
    features: [
      'with hyaluronic acid',
      'with shea butter',
      'dermatologically tested',
      'in a refillable bottle',
      'with vitamin C',
      'suitable for sensitive skin',
    ],
    uses: ['daily routines', 'dry skin', 'sensitive skin', 'travel'],
    attribute: { key: 'volume_ml', values: [30, 50, 100, 200, 250] },
    subcategories: [
      sub(
        'Skincare',
        leaf('Moisturisers*', 24, 'moisturiser|day cream|night cream'),
        leaf('Cleansers*', 16, 'cleanser|cleansing balm|micellar water'),
        leaf('Serums*', 30, 'serum|face oil|eye serum'),
      ),
      sub(
        'Haircare',
        leaf('Shampoo*', 10, 'shampoo|dry shampoo|clarifying shampoo'),
        leaf('Conditioner*', 11, 'conditioner|leave-in conditioner|hair mask'),
        leaf('Hair Oil*', 18, 'hair oil|scalp serum'),
      ),
      sub(
        'Makeup',
        leaf('Lipstick*', 19, 'lipstick|lip tint|lip liner'),
        leaf('Mascara*', 17, 'mascara|lash primer'),
        leaf('Foundation*', 28, 'foundation|skin tint|concealer'),
      ),
      sub(
        'Fragrance',
        leaf('Perfume', 75, 'eau de parfum|perfume oil|eau de toilette'),
        leaf('Aftershave', 45, 'aftershave balm|cologne'),
      ),
    ],
  },
  {
    name: 'Grocery',
    popularity: 1.1,
    adjectives: [
      'organic',
      'single-origin',
      'fair-trade',
      'small-batch',
      'roasted',
      'wholegrain',
      'classic',
      'artisan',
    ],
    features: [
      'sourced from small farms',
      'in a resealable pack',
      'with no added sugar',
      'roasted to order',
      'packed in recyclable paper',
      'with a rich finish',
    ],
    uses: ['the pantry', 'breakfast', 'sharing', 'everyday cooking'],
    attribute: { key: 'weight_g', values: [100, 250, 500, 1000] },
    subcategories: [
      sub(
        'Coffee & Tea',
        leaf('Coffee Beans*', 12, 'coffee beans|espresso beans|decaf beans'),
        leaf('Ground Coffee*', 9, 'ground coffee|filter coffee'),
        leaf('Tea Bags*', 5, 'green tea|breakfast tea|herbal tea'),
      ),
      sub(
        'Snacks',
        leaf('Crisps*', 3, 'crisps|tortilla chips|popcorn'),
        leaf('Chocolate*', 4, 'dark chocolate|milk chocolate|chocolate bar'),
        leaf('Nuts*', 6, 'mixed nuts|almonds|cashews'),
      ),
      sub(
        'Pantry',
        leaf('Pasta*', 3, 'spaghetti|penne|fusilli'),
        leaf('Rice*', 4, 'basmati rice|jasmine rice|risotto rice'),
        leaf('Olive Oil*', 11, 'extra virgin olive oil|olive oil'),
        leaf('Spices*', 4, 'smoked paprika|cumin|chilli flakes'),
      ),
      sub(
        'Drinks',
        leaf('Juice*', 4, 'orange juice|apple juice|cold-pressed juice'),
        leaf('Sparkling Water*', 3, 'sparkling water|mineral water'),
        leaf('Soft Drinks*', 3, 'lemonade|ginger beer|cola'),
      ),
    ],
  },
  {
    name: 'Sports & Outdoors',
    popularity: 0.9,
    adjectives: [
      'lightweight',
      'waterproof',
      'breathable',
      'ultralight',
      'durable',
      'packable',
      'reflective',
      'ergonomic',
    ],
    features: [
      'with a lifetime guarantee',
      'made from ripstop nylon',
      'with reflective details',
      'tested in alpine conditions',
      'with a carry bag',
      'with non-slip grip',
    ],
    uses: ['training', 'weekend adventures', 'trail runs', 'the gym'],
    attribute: { key: 'colour', values: ['black', 'orange', 'olive', 'blue', 'red'] },
    subcategories: [
      sub(
        'Fitness',
        leaf('Yoga Mats', 35, 'yoga mat|exercise mat|yoga block'),
        leaf('Dumbbells', 45, 'dumbbell set|kettlebell|adjustable dumbbell'),
        leaf('Resistance Bands', 15, 'resistance band set|loop band'),
      ),
      sub(
        'Cycling',
        leaf('Helmets', 60, 'bike helmet|commuter helmet'),
        leaf('Bike Lights', 25, 'bike light set|rear light|front light'),
        leaf('Bike Locks', 35, 'u-lock|chain lock|folding lock'),
      ),
      sub(
        'Camping',
        leaf('Tents', 160, 'two-person tent|tent|bivvy'),
        leaf('Sleeping Bags', 80, 'sleeping bag|sleeping mat'),
        leaf('Headlamps', 28, 'headlamp|lantern'),
      ),
      sub(
        'Running',
        leaf('Running Shoes', 110, 'running shoes|trail shoes|racing flats'),
        leaf('Running Socks*', 12, 'running socks|compression socks'),
        leaf('Water Bottles', 18, 'water bottle|insulated bottle|hydration vest'),
      ),
      sub(
        'Nutrition',
        leaf('Protein Powder*', 30, 'whey protein|vegan protein'),
        leaf('Energy Bars*', 2, 'energy bar|protein bar|energy gel'),
      ),
    ],
  },
  {
    name: 'Toys & Games',
    popularity: 0.8,
    adjectives: [
      'educational',
      'colourful',
      'wooden',
      'classic',
      'family',
      'creative',
      'award-winning',
      'deluxe',
    ],
    features: [
      'for ages 6 and up',
      'with a storage box',
      'made from sustainable wood',
      'for two to six players',
      'with illustrated instructions',
      'with replacement parts available',
    ],
    uses: ['rainy days', 'family nights', 'birthdays', 'learning through play'],
    attribute: { key: 'age_min', values: [3, 6, 8, 12] },
    subcategories: [
      sub(
        'Building',
        leaf('Bricks', 40, 'brick set|building set|starter bricks'),
        leaf('Construction Kits', 35, 'construction kit|marble run|robot kit'),
      ),
      sub(
        'Board Games',
        leaf('Strategy Games', 40, 'strategy game|card game|co-op game'),
        leaf('Party Games', 22, 'party game|quiz game|word game'),
        leaf('Puzzles', 18, 'jigsaw puzzle|3D puzzle|puzzle set'),
      ),
      sub(
        'Outdoor Play',
        leaf('Balls', 12, 'football|basketball|ball set'),
        leaf('Kites', 20, 'kite|stunt kite'),
        leaf('Water Toys', 15, 'water blaster|paddling pool|pool float'),
      ),
      sub(
        'Dolls & Figures',
        leaf('Dolls', 25, 'doll|rag doll|doll house'),
        leaf('Action Figures', 20, 'action figure|figure set'),
        leaf('Plush Toys', 16, 'plush bear|plush toy|soft toy'),
      ),
    ],
  },
  {
    name: 'Pets',
    popularity: 0.7,
    adjectives: [
      'grain-free',
      'durable',
      'natural',
      'chew-proof',
      'premium',
      'washable',
      'hypoallergenic',
      'cosy',
    ],
    features: [
      'vet approved',
      'with natural ingredients',
      'made to last',
      'with a non-slip base',
      'in a resealable bag',
      'easy to clean',
    ],
    uses: ['puppies', 'senior pets', 'indoor cats', 'busy owners'],
    attribute: { key: 'pet_size', values: ['small', 'medium', 'large'] },
    subcategories: [
      sub(
        'Dog',
        leaf('Dog Food*', 28, 'dry dog food|wet dog food|dog treats'),
        leaf('Dog Toys', 10, 'chew toy|rope toy|squeaky toy'),
        leaf('Leads', 18, 'lead|harness|collar'),
      ),
      sub(
        'Cat',
        leaf('Cat Food*', 20, 'dry cat food|wet cat food|cat treats'),
        leaf('Cat Litter*', 12, 'clumping litter|wood litter'),
        leaf('Scratchers', 30, 'scratching post|cat tree|scratcher'),
      ),
      sub(
        'Small Animals',
        leaf('Hay*', 8, 'timothy hay|meadow hay'),
        leaf('Cages', 60, 'hutch|cage|playpen'),
      ),
      sub(
        'Fish',
        leaf('Fish Food*', 6, 'fish flakes|pellets'),
        leaf('Aquarium Filters', 35, 'aquarium filter|air pump'),
      ),
    ],
  },
];

/** Syllables that brand names are assembled from (by seed), so no real brand is named. */
export const BRAND_SYLLABLES: readonly string[] = [
  ...'nor vik bel la mo ra kin do ze ta lu mi sol ven ar cas'.split(' '),
  ...'tel or pa ly quin fen ro sa hal de tor via mer lo ki an'.split(' '),
];
